/**
 * add() worker: `adds` calls of add(key, delta) over its keys, round robin
 * from its own starting offset, recording every value add() returned in a
 * shared Tally so the test can check that no two calls returned the same value.
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../../../lib/index.js';
import { Barrier, Tally, finishWorker } from '../support.js';

export interface AddWorkerData {
  handle: SharedFlatMapHandle;
  barrier: SharedArrayBuffer;
  parties: number;
  /** Start offset into `keys`, so workers do not move in lockstep over the same key. */
  offset: number;
  keys: number[];
  adds: number;
  delta: number;
  /** One row per key (same order as `keys`). */
  tally: SharedArrayBuffer;
  /** Largest value add() can legally return for one key. */
  maxValue: number;
}

export interface AddWorkerResult {
  /** Returned values that were not an integer in [1, maxValue]. */
  outOfRange: number;
  firstOutOfRange: string[];
  /** Adds whose result skipped values since this worker's previous add of the key: other workers' adds came between. */
  interleavings: number;
}

const OUT_OF_RANGE_REPORTED = 5;

function run(data: AddWorkerData): AddWorkerResult {
  const map = SharedFlatMap.attach<number, number>(data.handle);
  const tally = new Tally(data.tally, data.maxValue);
  const keyCount = data.keys.length;
  const result: AddWorkerResult = { outOfRange: 0, firstOutOfRange: [], interleavings: 0 };
  const previous = new Array<number>(keyCount).fill(0);
  new Barrier(data.barrier, data.parties).wait();
  for (let n = 0; n < data.adds; n++) {
    const keyIndex = (n + data.offset) % keyCount;
    const key = data.keys[keyIndex] as number;
    const value = map.add(key, data.delta);
    if (value !== (previous[keyIndex] as number) + data.delta) result.interleavings++;
    previous[keyIndex] = value;
    if (!tally.mark(keyIndex, value) && result.outOfRange++ < OUT_OF_RANGE_REPORTED) {
      result.firstOutOfRange.push(`add(${key}, ${data.delta}) returned ${value}`);
    }
  }
  return result;
}

finishWorker(run(workerData as AddWorkerData));
