// Twins (Bano et al., 2022), enumerated for n = 4: member 0 runs two honest replicas with one key
// (nodes 0 and 4), and in each of the first four views the five nodes are split into at most three
// groups; a protocol message of that view between groups is dropped. Every schedule is enumerated,
// none sampled, after two reductions that are arguments, not identities of runs:
//   - of the 41 ways to split five nodes into at most three groups, the 20 in which some group
//     holds three distinct members (enough for a quorum) are kept as they are, and the 21 in which
//     none does are represented by one of them: in those nothing can prepare or commit in that
//     view, whatever the split (they still differ in who hears that view's view change, which is
//     not varied);
//   - a schedule and its mirror image (the twins' roles swapped in every view) are one, by the
//     symmetry of the twins (the simulator draws timing per node, so the mirror's run differs in
//     timing).
// That leaves 21^4 = 194,481 sequences, 98,441 up to the mirror. Runs are deterministic, so those
// that differ only in the splits of views a run never reached are that run (`exploreTwins`).

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

/** Sequences of splits, one per view: 21^4 of them, numbered with view 0 as the leading digit. */
export const TWINS_CODES = TWIN_SPLITS.length ** TWIN_VIEWS;

function digitsOf(code: number): number[] {
  const k = TWIN_SPLITS.length;
  const digits = new Array<number>(TWIN_VIEWS);
  let c = ((code % TWINS_CODES) + TWINS_CODES) % TWINS_CODES;
  for (let v = TWIN_VIEWS - 1; v >= 0; v--) {
    digits[v] = c % k;
    c = Math.floor(c / k);
  }
  return digits;
}

/** Whether a sequence is the one of its mirror pair that is kept (the twins' roles swapped in every view). */
export function isCanonical(code: number): boolean {
  let mirror = 0;
  for (const d of digitsOf(code)) mirror = mirror * TWIN_SPLITS.length + MIRROR[d]!;
  return mirror >= code;
}

/** How many schedules there are once mirror images are counted once. */
export function twinsScheduleCount(): number {
  let count = 0;
  for (let code = 0; code < TWINS_CODES; code++) if (isCanonical(code)) count++;
  return count;
}

/** Schedule `code` (taken modulo 21^4): for each of the first views, how the nodes are split. */
export function twinsSchedule(code: number): Groups[] {
  return digitsOf(code).map((i) => TWIN_SPLITS[i]!.map((g) => [...g]));
}

/**
 * Every schedule whose view-0 split is `first`, up to mirror images, run in order. A run is
 * deterministic given its seed, and the split of a view acts only on messages of that view: so
 * the schedules that differ from a run's only in views above the highest view any message of that
 * run belonged to are that same run, and are skipped. `run` returns that highest view.
 */
export function exploreTwins(first: number, run: (code: number) => number): { runs: number; covered: number } {
  const k = TWIN_SPLITS.length;
  const span = k ** (TWIN_VIEWS - 1);
  let runs = 0;
  let covered = 0;
  for (let code = first * span; code < (first + 1) * span; ) {
    if (!isCanonical(code)) {
      code++;
      continue;
    }
    const highest = Math.max(0, Math.min(TWIN_VIEWS - 1, run(code)));
    runs++;
    // Views 0..highest are what this run depended on: every code sharing them is this run.
    const block = k ** (TWIN_VIEWS - 1 - highest);
    const next = (Math.floor(code / block) + 1) * block;
    for (let c = code; c < next; c++) if (isCanonical(c)) covered++;
    code = next;
  }
  return { runs, covered };
}
/** A schedule as a person reads it: `v0 {0,1,2}{3,4} | v1 ...` (node 4 is member 0's twin). */
export function describeTwinsSchedule(groups: readonly Groups[]): string {
  return groups.map((p, v) => `v${v} ${p.map((g) => `{${g.join(',')}}`).join('')}`).join(' | ');
}
