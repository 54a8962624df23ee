// Twins (Bano et al., 2022), enumerated for n = 4: member 0 runs two honest replicas with one key
// (nodes 0 and 4), and in each of the first four views the five nodes are split into at most three
// groups; a protocol message of that view between groups is dropped. Every schedule is enumerated,
// none sampled, with two reductions that change no outcome class:
//   - of the 41 ways to split five nodes into at most three groups, the 20 in which some group
//     holds three distinct members (enough for a quorum) are kept as they are, and the 21 in which
//     none does are represented by one of them: in those nothing can prepare or commit in that
//     view, whatever the split;
//   - a schedule and its mirror image (the twins' roles swapped in every view) are one.
// That leaves 21^4 = 194,481 sequences, 97,461 up to the mirror.

/** Nodes: members 0..3, then node 4 — member 0's twin. */
export const TWIN_NODES = 5;
export const TWIN_MEMBER_OF: readonly number[] = [0, 1, 2, 3, 0];
/** Views whose messages are split by a schedule. */
export const TWIN_VIEWS = 4;

type Groups = number[][];

/** Every split of `items` into groups, each group sorted, groups ordered by their first node. */
function splits(items: readonly number[]): Groups[] {
  if (items.length === 0) return [[]];
  const [first, ...rest] = items as [number, ...number[]];
  const out: Groups[] = [];
  for (const p of splits(rest)) {
    out.push([[first], ...p]);
    p.forEach((_, i) => out.push(p.map((g, k) => (k === i ? [first, ...g] : g))));
  }
  return out.map((p) => p.map((g) => [...g].sort((a, b) => a - b)).sort((a, b) => a[0]! - b[0]!));
}

const key = (p: Groups): string => p.map((g) => g.join('')).join('|');
const quorate = (p: Groups): boolean => p.some((g) => new Set(g.map((x) => TWIN_MEMBER_OF[x])).size >= 3);

/** The splits a view may have: every quorate one, then one that stands for all the rest. */
export const TWIN_SPLITS: readonly Groups[] = (() => {
  const all = splits([...Array(TWIN_NODES).keys()]).filter((p) => p.length <= 3);
  const noQuorum = all.filter((p) => !quorate(p)).sort((a, b) => key(a).localeCompare(key(b)));
  return [...all.filter(quorate).sort((a, b) => key(a).localeCompare(key(b))), noQuorum[0]!];
})();

/** The index of each split's mirror image (nodes 0 and 4 swapped). */
const MIRROR: readonly number[] = TWIN_SPLITS.map((p) => {
  const swapped = p.map((g) => g.map((x) => (x === 0 ? 4 : x === 4 ? 0 : x))).map((g) => g.sort((a, b) => a - b)).sort((a, b) => a[0]! - b[0]!);
  const i = TWIN_SPLITS.findIndex((q) => key(q) === key(swapped));
  // A split with no quorum mirrors to one with none, which the representative stands for.
  return i >= 0 ? i : TWIN_SPLITS.length - 1;
});

/** The schedules, as sequences of split indices, one of each mirror pair (computed once, lazily). */
let schedules: Uint8Array[] | null = null;

function allSchedules(): Uint8Array[] {
  if (schedules) return schedules;
  const k = TWIN_SPLITS.length;
  const out: Uint8Array[] = [];
  const digits = new Uint8Array(TWIN_VIEWS);
  for (let code = 0; code < k ** TWIN_VIEWS; code++) {
    let c = code;
    for (let v = TWIN_VIEWS - 1; v >= 0; v--) {
      digits[v] = c % k;
      c = Math.floor(c / k);
    }
    // Keep the sequence unless its mirror comes first.
    let mirror = 0;
    for (let v = 0; v < TWIN_VIEWS; v++) mirror = mirror * k + MIRROR[digits[v]!]!;
    if (mirror >= code) out.push(Uint8Array.from(digits));
  }
  schedules = out;
  return out;
}

/** How many Twins schedules there are. */
export function twinsScheduleCount(): number {
  return allSchedules().length;
}

/** Schedule `index` (taken modulo the count): for each of the first views, how the nodes are split. */
export function twinsSchedule(index: number): Groups[] {
  const list = allSchedules();
  const s = list[((index % list.length) + list.length) % list.length]!;
  return [...s].map((i) => TWIN_SPLITS[i]!.map((g) => [...g]));
}

/** A schedule as a person reads it: `v0 {0,1,2}{3,4} | v1 ...` (node 4 is member 0's twin). */
export function describeTwinsSchedule(groups: readonly Groups[]): string {
  return groups.map((p, v) => `v${v} ${p.map((g) => `{${g.join(',')}}`).join('')}`).join(' | ');
}
