// The core's adversary strategies (src/core/adversaries.ts), registered under their names so
// the simulator can put them in any member's place, and Twins: two honest replicas sharing one
// member's key, both live. Registration order is the order `--faults all` cycles through.
import { Adversary, STRATEGIES } from '../core/adversaries.ts';
import { Replica } from '../core/replica.ts';
import { registerAdversary } from './registry.ts';

const DESCRIPTIONS: Record<(typeof STRATEGIES)[number], string> = {
  silent: 'says nothing at all',
  equivocate: 'tells half the members one thing and the other half another, for the same slot',
  forge: "sends messages in other members' names, signed with its own key",
  'false-accuse': 'accuses honest members, with claims and with "proofs" that prove nothing',
  replay: 'replays old messages, garbage, truncated and oversize bytes',
  slow: 'holds back its primary duties (pre-prepares, new views) a little under the request timeout',
};

for (const strategy of STRATEGIES) {
  registerAdversary(
    strategy,
    (ctx) => new Adversary(strategy, { replica: new Replica(ctx.config), secretKey: ctx.secretKey, suite: ctx.suite, roster: ctx.roster }),
    DESCRIPTIONS[strategy],
  );
}

registerAdversary('twins', (ctx) => [ctx.replica(), ctx.replica()], 'two honest replicas with one key, both live');
