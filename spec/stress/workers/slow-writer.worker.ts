/**
 * Slow-writer worker: takes the lock of KEY's slot with the real write
 * protocol (lib/recovery.ts steps), commits its intent, then sleeps inside
 * the critical section for `holdMs` (longer than anyone's waitTimeoutMs)
 * before it writes and releases. Signals the test through `signal`:
 * [0] = 1 once it holds the lock, 2 once it released it.
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../../../lib/index.js';
import { S_KEY } from '../../../lib/layout.js';
import { int32KeySlot } from '../../helpers/slots.js';
import { announceLock, putLocked, stagedAt } from '../../../lib/recovery.js';
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
  const { words, table, slotInts, writerRecord } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  const at = int32KeySlot(words, table, slotInts, map.hasher.hashInt(data.key), data.key);
  const seq = Atomics.load(words, at);
  const mine = lockWord(recordTag(writerRecord), seq);
  announceLock(words, writerRecord, at, seq);
  if (Atomics.compareExchange(words, at, seq, mine) !== seq) throw new Error('slow writer: lock CAS failed');
  words[stagedAt(writerRecord, S_KEY)] = data.key;
  words[stagedAt(writerRecord, S_KEY + 1)] = data.value;
  const signal = new Int32Array(data.signal);
  Atomics.store(signal, 0, 1);
  Atomics.notify(signal, 0);
  // Inside the critical section, far longer than any waiter's timeout.
  Atomics.wait(signal, 1, 0, data.holdMs);
  const still = Atomics.load(words, at);
  putLocked(words, writerRecord, at, slotInts, seq, table.base, true);
  Atomics.store(signal, 0, 2);
  return { lockWord: still === mine ? 1 : 0 };
}

finishWorker(run(workerData as SlowWriterData));
