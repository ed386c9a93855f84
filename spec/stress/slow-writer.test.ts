/**
 * A thread that is only slow never loses its lock (issue #5). A worker takes
 * a bucket lock with the real protocol and sleeps inside its critical section
 * for HOLD_MS, far longer than the waiters' `waitTimeoutMs`. Meanwhile this
 * thread (and a second worker's view of the same map) keep trying to write
 * and read the key: every attempt times out with ERR_FLATSHARE_TIMEOUT and
 * changes nothing, the lock word keeps naming the slow writer the whole time,
 * no recovery runs, and once the slow writer releases, its value is there and
 * the next write succeeds.
 */
import test from 'ava';
import { SharedFlatMap, ErrorCode } from '../../lib/index.js';
import { onRecovery, type RecoveryReport } from '../../lib/recovery.js';
import { lockOwnerTag } from '../../lib/seqlock.js';
import { int32KeyLane } from '../helpers/slots.js';
import { DEFAULT_MODE, runWorker } from './support.js';
import type { SlowWriterData } from './workers/slow-writer.worker.js';

const URL_SLOW = new URL('./workers/slow-writer.worker.js', import.meta.url);
const KEY = 5;
const HOLD_MS = 1_500;
const WAIT_TIMEOUT_MS = 100;
/** Margin before the slow writer wakes up during which nothing is attempted. */
const QUIET_MS = 500;

test('a slow writer keeps its lock: waiters time out, nobody steals, the final state is the slow writer\'s then ours', async (t) => {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 64, waitTimeoutMs: WAIT_TIMEOUT_MS });
  map.set(KEY, 1);
  const signal = new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
  const flags = new Int32Array(signal);
  const recoveries: RecoveryReport[] = [];
  const unsubscribe = onRecovery((r) => recoveries.push(r));
  const done = runWorker<SlowWriterData, { lockWord: number }>(URL_SLOW, { handle: map.handle, key: KEY, value: 2, holdMs: HOLD_MS, signal }, DEFAULT_MODE);
  while (Atomics.load(flags, 0) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  const { words, table, g } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  // The bucket the slow writer holds.
  const { at, lane } = int32KeyLane(words, table, g, map.hasher.hashInt(KEY), KEY);
  t.true(lane >= 0, 'the key is in the map');
  const owner = lockOwnerTag(Atomics.load(words, at));
  t.true(owner > 0, 'the bucket is locked, and the lock word names its owner');
  let timeouts = 0;
  let attempts = 0;
  // Stop trying well before the slow writer wakes up, so no attempt can legitimately succeed.
  const stopAt = Date.now() + HOLD_MS - QUIET_MS;
  while (Date.now() < stopAt) {
    attempts++;
    for (const op of [() => map.set(KEY, 3), () => map.get(KEY), () => map.add(KEY, 1), () => map.delete(KEY)]) {
      try {
        op();
        if (Atomics.load(flags, 0) === 1) t.fail('an operation on the locked key completed while the slow writer held it');
      } catch (error) {
        t.is((error as { code?: string }).code, ErrorCode.TIMEOUT);
        timeouts++;
      }
    }
    if (Atomics.load(flags, 0) === 1) t.is(lockOwnerTag(Atomics.load(words, at)), owner, 'nobody took the lock over');
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.is(Atomics.load(flags, 0), 1, 'still inside the critical section');
  t.is(recoveries.length, 0, 'no recovery ran while the slow thread was alive');
  t.is(lockOwnerTag(Atomics.load(words, at)), owner);
  const report = await done;
  unsubscribe();
  t.is(report.result.lockWord, 1, 'the slow writer still held its lock when it woke up');
  t.is(map.get(KEY), 2, "the slow writer's value is stored");
  map.set(KEY, 3);
  t.is(map.get(KEY), 3);
  t.is(map.size, 2);
  // Its exit (a normal one) frees its writer record; there was nothing to repair.
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (const r of recoveries) t.is(r.rolledForward + r.rolledBack + r.chunksReleased, 0);
  t.true(timeouts >= 4, `${timeouts} timed-out attempts`);
  t.log(`slow writer held its lock ${HOLD_MS} ms; ${attempts} rounds of set/get/add/delete here, ${timeouts} timed out after ${WAIT_TIMEOUT_MS} ms each`);
});
