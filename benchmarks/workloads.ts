/**
 * The measured operations, one builder per (operation, implementation).
 *
 * Each builder returns a Workload: `fn` is ONE benchmark.js invocation and
 * does `batch` operations over a pre-generated key array; ns/op is the
 * benchmark.js mean divided by `batch`.
 *
 * The flatshare and Map builders are written out twice on purpose. V8 shares
 * type feedback between closures created from the same function literal, so
 * one generic builder used for both maps would make `map.get` a polymorphic
 * call site and slow BOTH sides down. Separate literals keep each side
 * monomorphic, as real callers are.
 *
 * Read-only and value-only operations (get hit, get miss, overwrite) leave the
 * map as they found it, so benchmark.js may repeat them freely (its default
 * minTime, ~50 ms per sample).
 *
 * Consuming operations (set new: needs an empty map; delete: needs present
 * keys) draw on a pool that `onCycle` restores untimed after every
 * benchmark.js cycle. Every cycle runs `fn` once untimed (benchmark.js's
 * "pretest") and then `count` times timed, with `count` chosen by benchmark.js
 * to fill `minTime`. So the workload sets its own `minTime` from the pool size:
 * `(poolOps - 3 * batch) * FASTEST_OP_SECONDS`, which keeps `(count + 1) *
 * batch` inside the pool for any operation slower than FASTEST_OP_SECONDS.
 * If the pool ever runs dry, `fn` throws and the case fails loudly; it never
 * silently times deletes of absent keys or inserts of present ones.
 *
 * Why pools and not one invocation per cycle: benchmark.js does ~1-3 ms of
 * its own work between cycles (cloning, compiling the test function), which
 * evicts the map from L1/L2. A cycle of a few microseconds then measures a
 * cold map: we saw Map.delete at 80-130 ns/op that way against ~10 ns/op in a
 * tight loop. Pools make each timed cycle >= ~0.5 ms long.
 */
import { SharedFlatMap } from '../lib/index.js';

/** Accumulated results of every invocation; printed at the end so the loops are not dead code. */
let sink = 0;
export function readSink(): number {
  return sink;
}

export interface Workload {
  /** Operations per invocation. */
  batch: number;
  /** benchmark.js minTime for this workload (seconds), or undefined for benchmark.js's default. */
  minTime: number | undefined;
  /** One benchmark.js invocation. */
  fn: () => void;
  /** Untimed, after every benchmark.js cycle (and after each warm-up call). */
  onCycle: () => void;
  /** Lookup in the map this workload last mutated or read (for the smoke check). */
  lookup: (key: number) => number | undefined;
  /** Size of that map. */
  size: () => number;
}

/** Data shared by both implementations of one case: identical keys and values for both. */
export interface CaseData {
  /** Keys present in the prefilled map; the value of present[i] is i. */
  present: Int32Array;
  /** Lookup / overwrite keys drawn from `present` (length a multiple of the batch). */
  hits: Int32Array;
  /** Keys absent from the map (length a multiple of the batch). */
  misses: Int32Array;
  /** A permutation of indices into `present`, the delete order. */
  deleteOrder: Int32Array;
  /** set-new: the keys inserted into an empty map per invocation; value of insert[i] is i. */
  insert: Int32Array;
  /** Batch of get hit, get miss and overwrite. */
  batch: number;
  /** Batch of delete: <= size / 2, so every replica gives at least one window. */
  deleteBatch: number;
  /** delete: copies of the prefilled map (pool of keys to delete per cycle). */
  deleteReplicas: number;
  /** set-new: empty maps prepared per cycle (pool of inserts per cycle). */
  setNewMaps: number;
  /** maxBytes for maps created by set-new. */
  setNewMaxBytes: number;
}

/**
 * A lower bound on the time of any operation measured here, in seconds. Map.delete
 * and Map.get are ~8-20 ns on this machine; a pool sized with 4 ns has 2x margin.
 */
export const FASTEST_OP_SECONDS = 4e-9;

/** minTime that keeps `(count + 1) * batch <= poolOps` (see the file comment). */
export function poolMinTime(poolOps: number, batch: number): number | undefined {
  const spare = poolOps - 3 * batch;
  // Pool of only ~two invocations: one invocation per cycle (any positive time below one invocation).
  return spare <= 0 ? 1e-9 : spare * FASTEST_OP_SECONDS;
}

// ---------------------------------------------------------------- prefilled maps

export function prefillFlatshare(data: CaseData): SharedFlatMap<number, number> {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
  const keys = data.present;
  for (let i = 0; i < keys.length; i++) map.set(keys[i] as number, i);
  return map;
}

export function prefillMap(data: CaseData): Map<number, number> {
  const map = new Map<number, number>();
  const keys = data.present;
  for (let i = 0; i < keys.length; i++) map.set(keys[i] as number, i);
  return map;
}

const noop = (): void => {};

// ---------------------------------------------------------------- get hit

export function getHitFlatshare(map: SharedFlatMap<number, number>, data: CaseData): Workload {
  const keys = data.hits;
  const batch = data.batch;
  let cursor = 0;
  return {
    batch,
    minTime: undefined,
    fn: () => {
      let acc = 0;
      const end = cursor + batch;
      for (let i = cursor; i < end; i++) acc = (acc + (map.get(keys[i] as number) as number)) | 0;
      cursor = end === keys.length ? 0 : end;
      sink = (sink + acc) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}

export function getHitMap(map: Map<number, number>, data: CaseData): Workload {
  const keys = data.hits;
  const batch = data.batch;
  let cursor = 0;
  return {
    batch,
    minTime: undefined,
    fn: () => {
      let acc = 0;
      const end = cursor + batch;
      for (let i = cursor; i < end; i++) acc = (acc + (map.get(keys[i] as number) as number)) | 0;
      cursor = end === keys.length ? 0 : end;
      sink = (sink + acc) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}

// ---------------------------------------------------------------- get miss

export function getMissFlatshare(map: SharedFlatMap<number, number>, data: CaseData): Workload {
  const keys = data.misses;
  const batch = data.batch;
  let cursor = 0;
  return {
    batch,
    minTime: undefined,
    fn: () => {
      let acc = 0;
      const end = cursor + batch;
      for (let i = cursor; i < end; i++) if (map.get(keys[i] as number) === undefined) acc++;
      cursor = end === keys.length ? 0 : end;
      sink = (sink + acc) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}

export function getMissMap(map: Map<number, number>, data: CaseData): Workload {
  const keys = data.misses;
  const batch = data.batch;
  let cursor = 0;
  return {
    batch,
    minTime: undefined,
    fn: () => {
      let acc = 0;
      const end = cursor + batch;
      for (let i = cursor; i < end; i++) if (map.get(keys[i] as number) === undefined) acc++;
      cursor = end === keys.length ? 0 : end;
      sink = (sink + acc) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}

// ---------------------------------------------------------------- overwrite

/** set() of keys already present, with a value that changes every invocation. */
export function overwriteFlatshare(map: SharedFlatMap<number, number>, data: CaseData): Workload {
  const keys = data.hits;
  const batch = data.batch;
  let cursor = 0;
  let salt = 0;
  return {
    batch,
    minTime: undefined,
    fn: () => {
      const end = cursor + batch;
      const s = salt;
      for (let i = cursor; i < end; i++) map.set(keys[i] as number, (i + s) | 0);
      cursor = end === keys.length ? 0 : end;
      salt = (salt + 1) | 0;
      sink = (sink + s) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}

export function overwriteMap(map: Map<number, number>, data: CaseData): Workload {
  const keys = data.hits;
  const batch = data.batch;
  let cursor = 0;
  let salt = 0;
  return {
    batch,
    minTime: undefined,
    fn: () => {
      const end = cursor + batch;
      const s = salt;
      for (let i = cursor; i < end; i++) map.set(keys[i] as number, (i + s) | 0);
      cursor = end === keys.length ? 0 : end;
      salt = (salt + 1) | 0;
      sink = (sink + s) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}


// ---------------------------------------------------------------- delete

/**
 * Delete `deleteBatch` present keys per invocation. The pool is
 * `deleteReplicas` identical copies of the prefilled map; a window is
 * (replica, slice of the shuffled delete order), and each replica gives up to
 * half of its keys per cycle, so a map is never less than half full. onCycle
 * puts every deleted key back with its value.
 */
export class DeleteWindows {
  readonly perReplica: number;
  readonly total: number;
  /** Window ids used since the last restore. */
  readonly used: Int32Array;
  usedCount = 0;
  cursor = 0;
  /** Deletes of keys that should have been present but returned false. */
  failed = 0;
  constructor(readonly data: Pick<CaseData, 'deleteBatch' | 'deleteReplicas'> & { present: { length: number } }) {
    this.perReplica = Math.max(1, Math.floor(data.present.length / 2 / data.deleteBatch));
    this.total = this.perReplica * data.deleteReplicas;
    this.used = new Int32Array(this.total);
  }
  get poolOps(): number {
    return this.total * this.data.deleteBatch;
  }
  /** Claim the next window; throws when the pool is exhausted for this cycle. */
  next(): number {
    if (this.usedCount === this.total) {
      throw new Error(`delete benchmark: pool of ${this.poolOps} deletes per cycle exhausted; an operation ran faster than FASTEST_OP_SECONDS`);
    }
    const w = this.cursor;
    this.cursor = w + 1 === this.total ? 0 : w + 1;
    this.used[this.usedCount++] = w;
    return w;
  }
  replicaOf(w: number): number {
    return w % this.data.deleteReplicas;
  }
  startOf(w: number): number {
    return Math.floor(w / this.data.deleteReplicas) * this.data.deleteBatch;
  }
}

export function deleteFlatshare(data: CaseData): Workload {
  const replicas: Array<SharedFlatMap<number, number>> = [];
  for (let r = 0; r < data.deleteReplicas; r++) replicas.push(prefillFlatshare(data));
  const windows = new DeleteWindows(data);
  const order = data.deleteOrder;
  const present = data.present;
  const batch = data.deleteBatch;
  const first = replicas[0] as SharedFlatMap<number, number>;
  return {
    batch,
    minTime: poolMinTime(windows.poolOps, batch),
    fn: () => {
      const w = windows.next();
      const map = replicas[windows.replicaOf(w)] as SharedFlatMap<number, number>;
      const start = windows.startOf(w);
      let acc = 0;
      for (let i = start; i < start + batch; i++) if (map.delete(present[order[i] as number] as number)) acc++;
      windows.failed += batch - acc;
      sink = (sink + acc) | 0;
    },
    onCycle: () => {
      for (let u = 0; u < windows.usedCount; u++) {
        const w = windows.used[u] as number;
        const map = replicas[windows.replicaOf(w)] as SharedFlatMap<number, number>;
        const start = windows.startOf(w);
        for (let i = start; i < start + batch; i++) {
          const j = order[i] as number;
          map.set(present[j] as number, j);
        }
      }
      windows.usedCount = 0;
      if (windows.failed !== 0) throw new Error(`delete benchmark (flatshare): ${windows.failed} deletes of present keys returned false`);
    },
    lookup: (k) => first.get(k),
    size: () => {
      for (const map of replicas) if (map.size !== first.size) return -1;
      return first.size;
    },
  };
}

export function deleteMap(data: CaseData): Workload {
  const replicas: Array<Map<number, number>> = [];
  for (let r = 0; r < data.deleteReplicas; r++) replicas.push(prefillMap(data));
  const windows = new DeleteWindows(data);
  const order = data.deleteOrder;
  const present = data.present;
  const batch = data.deleteBatch;
  const first = replicas[0] as Map<number, number>;
  return {
    batch,
    minTime: poolMinTime(windows.poolOps, batch),
    fn: () => {
      const w = windows.next();
      const map = replicas[windows.replicaOf(w)] as Map<number, number>;
      const start = windows.startOf(w);
      let acc = 0;
      for (let i = start; i < start + batch; i++) if (map.delete(present[order[i] as number] as number)) acc++;
      windows.failed += batch - acc;
      sink = (sink + acc) | 0;
    },
    onCycle: () => {
      for (let u = 0; u < windows.usedCount; u++) {
        const w = windows.used[u] as number;
        const map = replicas[windows.replicaOf(w)] as Map<number, number>;
        const start = windows.startOf(w);
        for (let i = start; i < start + batch; i++) {
          const j = order[i] as number;
          map.set(present[j] as number, j);
        }
      }
      windows.usedCount = 0;
      if (windows.failed !== 0) throw new Error(`delete benchmark (Map): ${windows.failed} deletes of present keys returned false`);
    },
    lookup: (k) => first.get(k),
    size: () => {
      for (const map of replicas) if (map.size !== first.size) return -1;
      return first.size;
    },
  };
}

// ---------------------------------------------------------------- set new keys

/**
 * Insert `size` new keys into an EMPTY map made with default options (so every
 * resize on the way to `size` is included). The pool is `setNewMaps` empty
 * maps, made untimed in onCycle; map construction is not timed.
 */
export function setNewFlatshare(data: CaseData): Workload {
  const keys = data.insert;
  const make = (): SharedFlatMap<number, number> =>
    new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', maxBytes: data.setNewMaxBytes });
  const pool: Array<SharedFlatMap<number, number>> = [];
  const refill = (): void => {
    while (pool.length < data.setNewMaps) pool.push(make());
  };
  refill();
  let last = make();
  return {
    batch: keys.length,
    minTime: poolMinTime(data.setNewMaps * keys.length, keys.length),
    fn: () => {
      const map = pool.pop();
      if (map === undefined) {
        throw new Error(`set-new benchmark (flatshare): pool of ${data.setNewMaps} empty maps per cycle exhausted`);
      }
      for (let i = 0; i < keys.length; i++) map.set(keys[i] as number, i);
      last = map;
      sink = (sink + map.size) | 0;
    },
    onCycle: refill,
    lookup: (k) => last.get(k),
    size: () => last.size,
  };
}

export function setNewMap(data: CaseData): Workload {
  const keys = data.insert;
  const pool: Array<Map<number, number>> = [];
  const refill = (): void => {
    while (pool.length < data.setNewMaps) pool.push(new Map<number, number>());
  };
  refill();
  let last = new Map<number, number>();
  return {
    batch: keys.length,
    minTime: poolMinTime(data.setNewMaps * keys.length, keys.length),
    fn: () => {
      const map = pool.pop();
      if (map === undefined) {
        throw new Error(`set-new benchmark (Map): pool of ${data.setNewMaps} empty maps per cycle exhausted`);
      }
      for (let i = 0; i < keys.length; i++) map.set(keys[i] as number, i);
      last = map;
      sink = (sink + map.size) | 0;
    },
    onCycle: refill,
    lookup: (k) => last.get(k),
    size: () => last.size,
  };
}
