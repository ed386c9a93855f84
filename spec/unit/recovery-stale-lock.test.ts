/**
 * Regression: recovery must not trust a stale lock intent (W_LOCK_AT).
 *
 * A writer announces the bucket it is about to lock before its CAS. When the
 * CAS failed, the announcement used to stay behind; after a resize that index
 * could point into a reused region at a key or value word. An int32 key 17 is
 * bit for bit the lock word of record tag 2 (`lockWord(2, 0)`), so
 * recovering a dead thread that owned record 1 "rolled back" that word and
 * overwrote the key: entries vanished when worker threads exited.
 */
import test from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { C_KEY, W_LOCK_AT, W_OWNER } from '../../lib/layout.js';
import { lockOwnerTag, lockWord } from '../../lib/seqlock.js';
import { recordTag, writerRecordAt } from '../../lib/writers.js';
import { int32KeyLane } from '../helpers/slots.js';
import { laneWordOffset } from '../../lib/bucket.js';

const FAKE_DEAD_THREAD = 999_999;

test('recover() ignores a LOCK_AT that names a key word which only looks like a lock word', (t) => {
  const record = 1;
  const tag = recordTag(writerRecordAt(record));
  const key = lockWord(tag, 0); // 17 for tag 2: the lock of an unlocked word 0
  t.is(lockOwnerTag(key), tag);
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 64 });
  for (let k = 0; k < 40; k++) map.set(k, k + 1000);
  t.is(map.get(key), key + 1000);
  const { words, table, g } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  const { at, lane } = int32KeyLane(words, table, g, map.hasher.hashInt(key), key);
  t.true(lane >= 0, 'found the key');
  const keyWord = at + laneWordOffset(g, C_KEY, lane);
  t.is(words[keyWord], key, 'found the key word');
  // A "dead" thread owns record 1 and its stale announcement points at that key word.
  const rec = writerRecordAt(record);
  t.is(Atomics.load(words, rec + W_OWNER), 0, 'record 1 is free');
  Atomics.store(words, rec + W_OWNER, FAKE_DEAD_THREAD + 1);
  Atomics.store(words, rec + W_LOCK_AT, keyWord);
  const report = map.recover(FAKE_DEAD_THREAD);
  t.is(report.records, 1);
  t.is(report.rolledBack + report.rolledForward, 0, 'no bucket was "repaired"');
  t.is(words[keyWord], key, 'the key word is untouched');
  for (let k = 0; k < 40; k++) t.is(map.get(k), k + 1000);
  t.is(Atomics.load(words, rec + W_OWNER), 0, 'the record is freed');
});
