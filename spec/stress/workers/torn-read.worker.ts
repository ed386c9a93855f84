/**
 * Torn-read worker, in one of two roles (migrations come from filler.worker.ts):
 * - writer: rewrites the shared keys with valid values (set only, or a mix of
 *   set, compareAndSet, getOrSet, delete), `writerOps` times, then stops;
 * - reader: get()s random keys and iterates the map, checking every value it
 *   sees against the key's invariant (invariants.ts), until the stop flag.
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../../../lib/index.js';
import { SeededPrng } from '../../helpers/prng.js';
import { FLOAT_VERSIONS, float64ValueOf, int32ValueOf, isValidFloat64For } from '../invariants.js';
import { Barrier, DEADLINE_CHECK_EVERY, StopFlag, finishWorker } from '../support.js';

export type TornRole = 'writer' | 'reader';

export interface TornWorkerData {
  role: TornRole;
  handle: SharedFlatMapHandle;
  float: boolean;
  barrier: SharedArrayBuffer;
  parties: number;
  stop: SharedArrayBuffer;
  thread: number;
  seed: number;
  /** Shared keys are [0, keyCount); the first hotKeys of them get hotShare of all operations. */
  keyCount: number;
  hotKeys: number;
  hotShare: number;
  /** Operations of a writer. */
  writerOps: number;
  /** Only set (the fastest rewrite: the most overlap), or a mix of set, compareAndSet, getOrSet, delete. */
  setOnly: boolean;
  /** A reader iterates the whole map once per this many gets. */
  getsPerIteration: number;
  deadline: number;
}

export interface TornWorkerResult {
  role: TornRole;
  /** Reads that returned a value and checked it (gets and iterated entries). */
  validatedReads: number;
  /** Gets whose value (or absence) differed from this reader's previous get of the key: writes interleaved. */
  changesSeen: number;
  violations: number;
  firstViolations: string[];
  operations: number;
}

/** Violations described in full; the rest are only counted. */
const VIOLATIONS_REPORTED = 5;
/** Writer op mix: cumulative thresholds on a uniform draw. */
const WRITE_SET = 0.4;
const WRITE_CAS = 0.65;
const WRITE_GET_OR_SET = 0.85; // the rest: delete

function run(data: TornWorkerData): TornWorkerResult {
  const map = SharedFlatMap.attach<number, number>(data.handle);
  const prng = new SeededPrng(data.seed);
  const stop = new StopFlag(data.stop);
  const result: TornWorkerResult = {
    role: data.role,
    validatedReads: 0,
    changesSeen: 0,
    violations: 0,
    firstViolations: [],
    operations: 0,
  };
  const valueFor = (key: number): number =>
    data.float ? float64ValueOf(key, prng.int(0, FLOAT_VERSIONS)) : int32ValueOf(key);
  const isValid = (key: number, value: number): boolean =>
    data.float ? isValidFloat64For(key, value) : value === int32ValueOf(key);
  const check = (key: number, value: number, where: string): void => {
    if (isValid(key, value)) {
      result.validatedReads++;
      return;
    }
    if (result.violations++ < VIOLATIONS_REPORTED) {
      result.firstViolations.push(`${where}: key ${key} read ${describeValue(value, data.float)}`);
    }
  };
  // Most ops go to a few hot keys, so reads and writes of the same slot really overlap in time.
  const pickKey = (): number => (prng.chance(data.hotShare) ? prng.int(0, data.hotKeys) : prng.int(0, data.keyCount));
  const pastDeadline = (n: number): boolean => n % DEADLINE_CHECK_EVERY === 0 && Date.now() > data.deadline;

  new Barrier(data.barrier, data.parties).wait();
  switch (data.role) {
    case 'writer':
      for (let n = 0; n < data.writerOps && !pastDeadline(n); n++, result.operations++) {
        const key = pickKey();
        const roll = data.setOnly ? 0 : prng.float();
        if (roll < WRITE_SET) map.set(key, valueFor(key));
        else if (roll < WRITE_CAS) {
          const current = map.get(key);
          map.compareAndSet(key, current, valueFor(key));
        } else if (roll < WRITE_GET_OR_SET) map.getOrSet(key, valueFor(key));
        else map.delete(key);
      }
      break;
    case 'reader': {
      const last = new Map<number, number | undefined>();
      for (let n = 0; !stop.raised && !pastDeadline(n); n++, result.operations++) {
        if (n % data.getsPerIteration === data.getsPerIteration - 1) {
          for (const [key, value] of map) check(key, value, 'iteration');
          continue;
        }
        const key = pickKey();
        const value = map.get(key);
        if (value !== undefined) check(key, value, 'get');
        if (last.has(key) && !Object.is(last.get(key), value)) result.changesSeen++;
        last.set(key, value);
      }
      break;
    }
  }
  return result;
}

function describeValue(value: number, float: boolean): string {
  if (!float) return String(value);
  const words = new Int32Array(new Float64Array([value]).buffer);
  return `${value} (words ${(words[1] as number) >>> 0}:${(words[0] as number) >>> 0})`;
}

finishWorker(run(workerData as TornWorkerData));
