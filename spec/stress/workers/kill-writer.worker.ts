/**
 * Kill-test writer: loops set / delete / add on keys [0, keyCount) forever,
 * until the test terminates it. It is the only writer of those keys, so it
 * knows each key's current value; before every operation it logs what it is
 * about to write (PENDING), after it what is now stored (COMMITTED), both in a
 * shared Int32Array, so after a kill the checker knows the two allowed values.
 * Keys [hotKeys, keyCount) are "filler": inserted fresh and deleted again, so
 * the table keeps migrating and kills also land inside resizes.
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../../../lib/index.js';
import { SeededPrng } from '../../helpers/prng.js';
import { KillLog, ABSENT, FILLER_LIVE } from '../kill-log.js';
import { keyOf, valueOf, type KillKind } from '../kill-codec.js';

export interface KillWriterData {
  handle: SharedFlatMapHandle;
  log: SharedArrayBuffer;
  keyCount: number;
  hotKeys: number;
  seed: number;
  /** One word: the writer attaches, then waits until the test sets it (workers start slowly; the test starts the next one early). */
  go: SharedArrayBuffer;
  /** Key and value kinds of the map (kill-codec.ts). */
  kind: KillKind;
  /**
   * The map is at its maxBytes: a write that answers ERR_FLATSHARE_FULL is
   * logged as not done (committed = the old value), which is what FULL
   * promises (nothing changed). Otherwise FULL fails the writer.
   */
  fullIsNoOp: boolean;
}

const VALUE_RANGE = 1_000_000;
const ADD_RANGE = 100;

function run(data: KillWriterData): void {
  const map = SharedFlatMap.attach<number | string, number | string>(data.handle);
  const kind = data.kind;
  const K = (k: number): number | string => keyOf(kind, k);
  const V = (v: number): number | string => valueOf(kind, v);
  const go = new Int32Array(data.go);
  while (Atomics.load(go, 0) === 0) Atomics.wait(go, 0, 0, 50);
  const log = new KillLog(data.log, data.keyCount);
  const prng = new SeededPrng(data.seed);
  const fillers = data.keyCount - data.hotKeys;
  /** Run one write; false when it answered FULL at maxBytes (it then changed nothing). */
  const write = (op: () => unknown): boolean => {
    try {
      op();
      return true;
    } catch (error) {
      if (!data.fullIsNoOp || (error as { code?: string }).code !== 'ERR_FLATSHARE_FULL') throw error;
      log.full();
      return false;
    }
  };
  let nextFiller = prng.int(0, fillers);
  const live: number[] = [];
  for (let k = data.hotKeys; k < data.keyCount; k++) if (log.committed(k) !== ABSENT) live.push(k);
  for (;;) {
    const roll = prng.int(0, 10);
    if (roll < 3) {
      // Filler: insert a fresh key, or delete the oldest live one.
      if (live.length < FILLER_LIVE) {
        let k = data.hotKeys + (nextFiller++ % fillers);
        while (log.committed(k) !== ABSENT) k = data.hotKeys + (nextFiller++ % fillers);
        const v = prng.int(0, VALUE_RANGE);
        log.begin(k, v);
        if (write(() => map.set(K(k), V(v)))) {
          log.commit(k, v);
          live.push(k);
        } else {
          log.settle(k, ABSENT);
        }
      } else {
        const k = live.shift() as number;
        log.begin(k, ABSENT);
        map.delete(K(k));
        log.commit(k, ABSENT);
      }
      continue;
    }
    const k = prng.int(0, data.hotKeys);
    const old = log.committed(k);
    if (roll < 6) {
      const v = prng.int(0, VALUE_RANGE);
      log.begin(k, v);
      if (write(() => map.set(K(k), V(v)))) log.commit(k, v);
      else log.settle(k, old);
    } else if (roll < 8) {
      log.begin(k, ABSENT);
      map.delete(K(k));
      log.commit(k, ABSENT);
    } else {
      const d = 1 + prng.int(0, ADD_RANGE);
      const v = (old === ABSENT ? 0 : old) + d;
      log.begin(k, v);
      let swapped = true;
      const done = write(() => {
        if (kind === 'int32') {
          const got = map.add(K(k), d);
          if (got !== v) throw new Error(`add(${k}, ${d}) returned ${got}, expected ${v}`);
        } else {
          // String values have no add(): the same read-modify-write through compareAndSet.
          swapped = map.compareAndSet(K(k), old === ABSENT ? undefined : V(old), V(v));
        }
      });
      if (!swapped) throw new Error(`compareAndSet(${k}) failed: the writer is the only one writing its keys`);
      if (done) log.commit(k, v);
      else log.settle(k, old);
    }
    log.tick();
  }
}

run(workerData as KillWriterData);
