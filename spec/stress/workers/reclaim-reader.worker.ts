/**
 * Reader of reclaim.test.ts: until the stop flag, reads the stable keys (each
 * must have its value) and random churned keys (each must be absent or hold a
 * value written for it), with get and has. Counts what it saw.
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../../../lib/index.js';
import { SeededPrng } from '../../helpers/prng.js';
import { CHURN_NAMES, STABLE_KEYS, churnKey, isValueOf, stableKey, valueFor } from '../reclaim.shared.js';
import { StopFlag, finishWorker } from '../support.js';

export interface ReclaimReaderData {
  handle: SharedFlatMapHandle;
  stop: SharedArrayBuffer;
  /** One Int32 word: each reader adds 1 once it has read every stable key (the writer waits for all). */
  started: SharedArrayBuffer;
  seed: number;
}

export interface ReclaimReaderResult {
  reads: number;
  churnHits: number;
  churnMisses: number;
  violations: number;
  firstViolations: string[];
}

const VIOLATIONS_REPORTED = 5;

function run(data: ReclaimReaderData): ReclaimReaderResult {
  const map = SharedFlatMap.attach<string, string>(data.handle);
  const prng = new SeededPrng(data.seed);
  const stop = new StopFlag(data.stop);
  const result: ReclaimReaderResult = { reads: 0, churnHits: 0, churnMisses: 0, violations: 0, firstViolations: [] };
  const violation = (what: string): void => {
    result.violations++;
    if (result.firstViolations.length < VIOLATIONS_REPORTED) result.firstViolations.push(what);
  };
  let first = true;
  while (!stop.raised) {
    for (let i = 0; i < STABLE_KEYS; i++) {
      const key = stableKey(i);
      const got = map.get(key);
      if (got !== valueFor(key, 0)) violation(`stable ${key}: ${String(got).slice(0, 40)}`);
      result.reads++;
    }
    if (first) {
      first = false;
      Atomics.add(new Int32Array(data.started), 0, 1);
    }
    for (let j = 0; j < 256; j++) {
      const key = churnKey(prng.int(0, CHURN_NAMES));
      const got = map.get(key);
      if (got === undefined) result.churnMisses++;
      else if (isValueOf(key, got)) result.churnHits++;
      else violation(`churned ${key}: ${got.slice(0, 40)}`);
      const has = map.has(key);
      if (typeof has !== 'boolean') violation(`has(${key}) returned ${String(has)}`);
      result.reads += 2;
    }
  }
  return result;
}

finishWorker(run(workerData as ReclaimReaderData));
