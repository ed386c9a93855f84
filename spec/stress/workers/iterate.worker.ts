/**
 * Iterating worker: walks the map again and again while filler workers churn
 * it through migrations, and checks every pass:
 * - no key is yielded twice in one pass;
 * - every stable key (present for the whole run) is yielded, with its value;
 * - every other key is a filler key with its invariant value (invariants.ts).
 * It notes, per pass, whether the table generation moved during the pass.
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../../../lib/index.js';
import { float64ValueOf, int32ValueOf } from '../invariants.js';
import { FILLER_KEY_BASE, FILLER_KEY_SPAN, finishWorker, generationOf } from '../support.js';

export interface IterateWorkerData {
  handle: SharedFlatMapHandle;
  float: boolean;
  /** Stable keys are [0, stableCount). */
  stableCount: number;
  /** Filler threads whose ranges may appear (fillerRangeStart(0 .. fillerThreads - 1)). */
  fillerThreads: number;
  /** Stop once this many passes are done and at least minOverlapped of them overlapped a migration... */
  minPasses: number;
  minOverlapped: number;
  /** ... or at these limits. */
  maxPasses: number;
  deadline: number;
}

export interface IterateWorkerResult {
  passes: number;
  /** Passes during which the table generation moved (a migration flipped mid-iteration). */
  overlapped: number;
  /** Most generations one pass spanned. */
  maxGenerationsInPass: number;
  violations: number;
  firstViolations: string[];
  /** Per filler thread, the highest key offset in its range that any pass yielded (-1: none). */
  highestFillerOffset: number[];
}

const VIOLATIONS_REPORTED = 10;

/** The ways to iterate, used in turn. `keys` yields no values, so its values are not checked. */
const METHODS = ['entries', 'iterator', 'forEach', 'keys'] as const;
type Method = (typeof METHODS)[number];

function pass(
  map: SharedFlatMap<number, number>,
  method: Method,
  visit: (key: number, value: number | undefined) => void,
): void {
  switch (method) {
    case 'entries':
      for (const [key, value] of map.entries()) visit(key, value);
      return;
    case 'iterator':
      for (const [key, value] of map) visit(key, value);
      return;
    case 'forEach':
      map.forEach((value, key) => visit(key, value));
      return;
    case 'keys':
      for (const key of map.keys()) visit(key, undefined);
      return;
  }
}

function run(data: IterateWorkerData): IterateWorkerResult {
  const map = SharedFlatMap.attach<number, number>(data.handle);
  const valueOf = (key: number): number => (data.float ? float64ValueOf(key, key) : int32ValueOf(key));
  const result: IterateWorkerResult = {
    passes: 0,
    overlapped: 0,
    maxGenerationsInPass: 0,
    violations: 0,
    firstViolations: [],
    highestFillerOffset: new Array<number>(data.fillerThreads).fill(-1),
  };
  const violation = (what: string): void => {
    if (result.violations++ < VIOLATIONS_REPORTED) result.firstViolations.push(`pass ${result.passes}: ${what}`);
  };
  const fillerEnd = FILLER_KEY_BASE + data.fillerThreads * FILLER_KEY_SPAN;
  const seen = new Set<number>();

  while (
    result.passes < data.maxPasses &&
    Date.now() < data.deadline &&
    !(result.passes >= data.minPasses && result.overlapped >= data.minOverlapped)
  ) {
    const method = METHODS[result.passes % METHODS.length] as Method;
    seen.clear();
    let stableSeen = 0;
    const before = generationOf(map);
    pass(map, method, (key, value) => {
      if (seen.has(key)) {
        violation(`${method} yielded key ${key} twice`);
        return;
      }
      seen.add(key);
      if (value !== undefined && !Object.is(value, valueOf(key))) {
        violation(`${method} yielded key ${key} with value ${value}`);
      }
      if (key >= 0 && key < data.stableCount) stableSeen++;
      else if (key >= FILLER_KEY_BASE && key < fillerEnd) {
        const thread = Math.floor((key - FILLER_KEY_BASE) / FILLER_KEY_SPAN);
        const offset = (key - FILLER_KEY_BASE) % FILLER_KEY_SPAN;
        if (offset > (result.highestFillerOffset[thread] as number)) result.highestFillerOffset[thread] = offset;
      } else violation(`${method} yielded key ${key}, which nobody inserted`);
    });
    const spanned = generationOf(map) - before;
    if (stableSeen !== data.stableCount) {
      violation(
        `${method} yielded ${stableSeen} of ${data.stableCount} stable keys (${spanned} migrations during the pass)`,
      );
    }
    if (spanned > 0) result.overlapped++;
    if (spanned > result.maxGenerationsInPass) result.maxGenerationsInPass = spanned;
    result.passes++;
  }
  return result;
}

finishWorker(run(workerData as IterateWorkerData));
