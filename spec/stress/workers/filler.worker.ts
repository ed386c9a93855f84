/**
 * Filler worker: inserts fresh keys of its private range and deletes the
 * oldest ones (FillerChurn) until the stop flag or the deadline, so the table
 * keeps migrating under the other workers. With `drain`, it deletes its last
 * live keys before reporting, leaving the map as it found it.
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../../../lib/index.js';
import { float64ValueOf, int32ValueOf } from '../invariants.js';
import { DEADLINE_CHECK_EVERY, FillerChurn, StopFlag, fillerRangeStart, finishWorker } from '../support.js';

/** What the filler stores: its key, or the key's invariant value (invariants.ts). */
export type FillerValues = 'key' | 'int32-invariant' | 'float64-invariant';

export interface FillerWorkerData {
  handle: SharedFlatMapHandle;
  stop: SharedArrayBuffer;
  /** Picks the private key range (fillerRangeStart). */
  thread: number;
  maxLive: number;
  values: FillerValues;
  drain: boolean;
  deadline: number;
}

export interface FillerWorkerResult {
  inserts: number;
}

const VALUE_OF: Record<FillerValues, (key: number) => number> = {
  key: (key) => key,
  'int32-invariant': int32ValueOf,
  'float64-invariant': (key) => float64ValueOf(key, key),
};

function run(data: FillerWorkerData): FillerWorkerResult {
  const map = SharedFlatMap.attach<number, number>(data.handle);
  const stop = new StopFlag(data.stop);
  const filler = new FillerChurn(map, fillerRangeStart(data.thread), data.maxLive, VALUE_OF[data.values]);
  for (let n = 0; !stop.raised; n++) {
    if (n % DEADLINE_CHECK_EVERY === 0 && Date.now() > data.deadline) break;
    filler.step();
  }
  if (data.drain) filler.drain();
  return { inserts: filler.inserted };
}

finishWorker(run(workerData as FillerWorkerData));
