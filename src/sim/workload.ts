// What the members ask for: real lunch intents with real content. A member proposes a place and
// a time, or votes on a proposal its own replica has already seen executed, now and then starts
// a new round. Every op is valid; whether it changes the lunch is for the state machine to say.
import type { LunchOp, RequestRef } from '../core/lunch.ts';
import type { Prng } from './prng.ts';

const PLACES = [
  'Noodle Bar', 'Taqueria Luna', 'Falafel Stand', 'Pizzeria Due', 'Sushi Corner', 'The Cafeteria',
  'Dumpling House', 'Salad Bar', 'Burger Joint', 'Thai Kitchen', 'Pho Saigon', 'Curry Leaf',
  'Bagel Shop', 'Ramen Ya', 'Café Zürich', 'Smørrebrød Hus',
];

export function lunchTime(rng: Prng): string {
  const hour = rng.int(11, 13);
  const minute = rng.int(0, 11) * 5;
  return `${hour}:${String(minute).padStart(2, '0')}`;
}

/** A new op for a member who has seen the proposals `known` executed (newest last). */
export function nextOp(rng: Prng, known: readonly RequestRef[]): LunchOp {
  if (known.length === 0 || rng.chance(0.2)) {
    const place = rng.pick(PLACES);
    return { kind: 'propose', place: rng.chance(0.2) ? `  ${place} ` : place, time: lunchTime(rng) };
  }
  if (rng.chance(0.04)) return { kind: 'new-round' };
  // Mostly the recent proposals: that is what people look at.
  const proposal = rng.chance(0.7) ? (known[known.length - 1] as RequestRef) : rng.pick(known);
  return { kind: 'vote', proposal: { ...proposal }, choice: rng.chance(0.8) ? 'join' : 'decline' };
}
