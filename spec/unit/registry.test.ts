/**
 * The per-thread registry of map instances (lib/recovery.ts registerMap) must
 * not outlive the instances: a map that was dropped and collected loses its
 * entry, and the thread's cached writer record number for it (lib/writers.ts),
 * without any worker exiting. An instance that was collected leaves while
 * another instance of the same map stays registered, so automatic recovery
 * still finds the map.
 *
 * The tests run serially: each counts every entry of the process.
 * Garbage collection is forced through V8's --expose-gc flag set at run time
 * (a fresh context then has `gc`); the test waits for a few turns after each
 * gc() because FinalizationRegistry callbacks run as tasks of their own.
 */
import test from 'ava';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { SharedFlatMap } from '../../lib/index.js';
import { instancesOf, registeredInstances } from '../../lib/recovery.js';
import { cachedRecordCount, writerRecordAt } from '../../lib/writers.js';
import { MAX_WRITERS, W_OWNER } from '../../lib/layout.js';
import { threadId } from 'node:worker_threads';
import type { SharedFlatMapHandle } from '../../lib/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Maps made and dropped by the test. */
const DROPPED = 40;
/** gc() and turns tried before giving up (collection is not promised on the first). */
const COLLECT_ATTEMPTS = 20;
/** Small budget for entries other code of this process might register meanwhile (none expected). */
const SLACK = 2;

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function makeAndDrop(count: number): void {
  for (let i = 0; i < count; i++) {
    const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', maxBytes: 1 << 20 });
    map.set(i, i);
  }
}

async function collectUntil(done: () => boolean): Promise<boolean> {
  for (let attempt = 0; attempt < COLLECT_ATTEMPTS; attempt++) {
    // The WeakRef in the registry keeps a map alive until the job that made it ends.
    await turn();
    gc();
    await turn();
    if (done()) return true;
  }
  return done();
}

test.serial('a dropped map leaves the registry once it is collected, without any worker exiting', async (t) => {
  const before = registeredInstances();
  const recordsBefore = cachedRecordCount();
  makeAndDrop(DROPPED);
  t.is(registeredInstances(), before + DROPPED, 'every new map registers one instance');
  t.is(cachedRecordCount(), recordsBefore + DROPPED, 'every written map caches its writer record number');
  const pruned = await collectUntil(() => registeredInstances() <= before + SLACK && cachedRecordCount() <= recordsBefore + SLACK);
  t.true(pruned, `registry still holds ${registeredInstances() - before} of the ${DROPPED} dropped maps, records ${cachedRecordCount() - recordsBefore}`);
});

/** Attach `map` in this thread, write through the new instance, and drop it. */
function attachWriteAndDrop(map: SharedFlatMap<number, number>): void {
  SharedFlatMap.attach<number, number>(map.handle).set(2, 22);
}

test.serial('a collected instance leaves, the live instance of the same map stays registered', async (t) => {
  const kept = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', maxBytes: 1 << 20 });
  kept.set(1, 11);
  const mapId = (kept as unknown as { mapId: string }).mapId;
  attachWriteAndDrop(kept);
  t.is(instancesOf(mapId).length, 2);
  const recordsBefore = cachedRecordCount();
  t.true(await collectUntil(() => instancesOf(mapId).length === 1), 'the dropped instance was collected');
  t.deepEqual(instancesOf(mapId), [kept]);
  t.is(cachedRecordCount(), recordsBefore, 'the map keeps its cached record while an instance lives');
  // kept still writes through its record, and a new attach finds the same one.
  kept.set(3, 33);
  const again = SharedFlatMap.attach<number, number>(kept.handle);
  again.set(4, 44);
  t.deepEqual([kept.get(2), kept.get(3), kept.get(4)], [22, 33, 44]);
});

test.serial('a map that is still referenced keeps its registry entry through gc', async (t) => {
  const kept = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', maxBytes: 1 << 20 });
  const attached = SharedFlatMap.attach<number, number>(kept.handle);
  // The id the registry keys on (private to the class).
  const mapId = (kept as unknown as { mapId: string }).mapId;
  t.is(typeof mapId, 'string');
  t.deepEqual(new Set(instancesOf(mapId)), new Set([kept, attached]));
  const before = registeredInstances();
  makeAndDrop(DROPPED);
  t.true(await collectUntil(() => registeredInstances() <= before + SLACK), 'the dropped maps were collected');
  t.deepEqual(new Set(instancesOf(mapId)), new Set([kept, attached]), 'both live instances are still registered');
  kept.set(1, 11);
  t.is(attached.get(1), 11);
});

/** Word indices of the records this thread owns in the map. */
function ownedRecords(handle: SharedFlatMapHandle): number[] {
  const words = new Int32Array(handle.memory.buffer);
  const owned: number[] = [];
  for (let n = 0; n < MAX_WRITERS; n++) if (Atomics.load(words, writerRecordAt(n) + W_OWNER) === threadId + 1) owned.push(writerRecordAt(n));
  return owned;
}

/** Make a map whose writer record in this thread is record 1 while record 0 is free, and drop every instance. */
function mapOwningRecordOne(): SharedFlatMapHandle {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', maxBytes: 1 << 20 });
  const words = new Int32Array(map.handle.memory.buffer);
  const FAKE_OWNER = threadId + 1000;
  // Another thread holds record 0 while this one writes, then gives it back.
  Atomics.store(words, writerRecordAt(0) + W_OWNER, FAKE_OWNER);
  map.set(1, 11);
  Atomics.store(words, writerRecordAt(0) + W_OWNER, 0);
  return map.handle;
}

test.serial('after its instances were collected, a thread writing again reuses the record it owns, not a free one', async (t) => {
  const handle = mapOwningRecordOne();
  t.deepEqual(ownedRecords(handle), [writerRecordAt(1)]);
  const records = cachedRecordCount();
  t.true(await collectUntil(() => cachedRecordCount() < records), 'the cached record number was forgotten');
  const again = SharedFlatMap.attach<number, number>(handle);
  again.set(2, 22);
  t.deepEqual(ownedRecords(handle), [writerRecordAt(1)], 'one record, the one it owned');
  t.deepEqual([again.get(1), again.get(2)], [11, 22]);
});

test.serial('releaseThread gives the record back after the cached number was forgotten', async (t) => {
  const handle = mapOwningRecordOne();
  const records = cachedRecordCount();
  t.true(await collectUntil(() => cachedRecordCount() < records), 'the cached record number was forgotten');
  const again = SharedFlatMap.attach<number, number>(handle);
  again.releaseThread();
  t.deepEqual(ownedRecords(handle), [], 'no record of this thread is left');
  again.set(3, 33);
  t.is(ownedRecords(handle).length, 1, 'a later write claims one again');
});
