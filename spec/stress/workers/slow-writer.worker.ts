/**
 * Slow-writer worker: takes the lock of KEY's bucket with the real write
 * protocol (lib/intent.ts and lib/bucket-write.ts steps), stages and commits its intent, then sleeps inside
 * the critical section for `holdMs` (longer than anyone's waitTimeoutMs)
 * before it writes and releases. Signals the test through `signal`:
 * [0] = 1 once it holds the lock, 2 once it released it.
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../../../lib/index.js';
import { INTENT_PUT } from '../../../lib/layout.js';
import { int32KeyLane } from '../../helpers/slots.js';
import { announceLock, clearLock, commitIntent } from '../../../lib/recovery.js';
import { B_META, laneState } from '../../../lib/bucket.js';
import { changeMeta, countSize, releaseBucket, stagePut, writeLane, type LaneLock } from '../../../lib/bucket-write.js';
import { lockWord } from '../../../lib/seqlock.js';
import { recordTag } from '../../../lib/writers.js';
import { finishWorker } from '../support.js';

export interface SlowWriterData {
  handle: SharedFlatMapHandle;
  key: number;
  value: number;
  holdMs: number;
  signal: SharedArrayBuffer;
}

function run(data: SlowWriterData): { lockWord: number } {
  const map = SharedFlatMap.attach<number, number>(data.handle);
  map.set(data.key + 1, 0); // claims this thread's writer record
  const { words, table, g, writerRecord } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  const { at, lane } = int32KeyLane(words, table, g, map.hasher.hashInt(data.key), data.key);
  if (lane < 0) throw new Error('slow writer: the key is not in the map');
  const seq = Atomics.load(words, at);
  const mine = lockWord(recordTag(writerRecord), seq);
  announceLock(words, writerRecord, at, seq);
  if (Atomics.compareExchange(words, at, seq, mine) !== seq) throw new Error('slow writer: lock CAS failed');
  const lock: LaneLock = { at, lane, seq, state: laneState(Atomics.load(words, at + B_META), lane) };
  stagePut(words, writerRecord, g, lock, [data.key], [data.value]);
  commitIntent(words, writerRecord, INTENT_PUT, table.base);
  const signal = new Int32Array(data.signal);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
  // Inside the critical section, far longer than any waiter's timeout.
  Atomics.wait(signal, 1, 0, data.holdMs);
  const still = Atomics.load(words, at);
  // putLane's steps after the commit (bucket-write.ts).
  writeLane(words, writerRecord, at, g, true);
  changeMeta(words, writerRecord, at);
  countSize(words, writerRecord);
  releaseBucket(words, writerRecord, at);
  clearLock(words, writerRecord);
  Atomics.store(signal, 0, 2);
  return { lockWord: still === mine ? 1 : 0 };
}

finishWorker(run(workerData as SlowWriterData));
