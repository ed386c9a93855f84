/**
 * Kill-test bystander: until stopped, reads every logged key and writes its
 * own keys, counting completed rounds in a shared word. A wedged map (a lock
 * or a migration left by a killed writer and never repaired) stops the count;
 * ERR_FLATSHARE_TIMEOUT is counted too (it means a wait hit the limit).
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, ErrorCode, type SharedFlatMapHandle } from '../../../lib/index.js';
import { StopFlag, finishWorker } from '../support.js';
import { decodeValue, keyOf, valueOf, type KillKind } from '../kill-codec.js';

export interface BystanderData {
  handle: SharedFlatMapHandle;
  stop: SharedArrayBuffer;
  /** [rounds, timeouts, a word nobody changes, to sleep on] */
  progress: SharedArrayBuffer;
  readKeys: number;
  firstOwnKey: number;
  ownKeys: number;
  /** Key and value kinds of the map (kill-codec.ts). */
  kind: KillKind;
}

export interface BystanderResult {
  rounds: number;
  timeouts: number;
  wrongOwnValues: number;
}

/** Pause between rounds, in ms. */
const BREATHER_MS = 0.5;

function run(data: BystanderData): BystanderResult {
  const map = SharedFlatMap.attach<number | string, number | string>(data.handle, { waitTimeoutMs: 2_000 });
  const kind = data.kind;
  const stop = new StopFlag(data.stop);
  const progress = new Int32Array(data.progress);
  const result: BystanderResult = { rounds: 0, timeouts: 0, wrongOwnValues: 0 };
  while (!stop.raised) {
    try {
      for (let k = 0; k < data.readKeys; k++) map.get(keyOf(kind, k));
      for (let i = 0; i < data.ownKeys; i++) {
        const key = keyOf(kind, data.firstOwnKey + i);
        map.set(key, valueOf(kind, result.rounds));
        if (decodeValue(kind, map.get(key)) !== result.rounds) result.wrongOwnValues++;
      }
      result.rounds++;
      Atomics.store(progress, 0, result.rounds);
      // Leave the cores to the writers (they start often) and the test.
      Atomics.wait(progress, 2, 0, BREATHER_MS);
    } catch (error) {
      if ((error as { code?: string }).code !== ErrorCode.TIMEOUT) throw error;
      result.timeouts++;
      Atomics.store(progress, 1, result.timeouts);
    }
  }
  return result;
}

finishWorker(run(workerData as BystanderData));
