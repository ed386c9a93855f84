/**
 * The string-key workloads: 16-char ASCII keys, flatshare against Map, one
 * builder per (operation, implementation), as in workloads.ts (read its file
 * comment for batches, pools and why flatshare and Map get separate function
 * literals). get hit has two value families: int32 values, and string values
 * (short or 1 KiB), again as separate literals so that the `acc` line of each
 * stays monomorphic.
 *
 * Lookups use the SAME string objects that were inserted (drawn from the
 * present keys). V8 caches a string's hash in the string, so `Map.get` never
 * rehashes them, while flatshare hashes the key on every call: this is Map's
 * best case. A server that parses the key out of a request hands both a fresh
 * string whose hash V8 must compute once (see docs/benchmarks.md).
 */
import { SharedFlatMap, type Hasher } from '../lib/index.js';
import { DeleteWindows, poolMinTime } from './workloads.js';

let sink = 0;
export function readStringSink(): number {
  return sink;
}

/** A string-key workload (the smoke check looks keys up with `lookup`). */
export interface StringWorkload {
  batch: number;
  minTime: number | undefined;
  fn: () => void;
  onCycle: () => void;
  lookup: (key: string) => unknown;
  size: () => number;
}

/** Keys and values of one case, identical for both implementations. */
export interface StringCaseData {
  /** Keys present in the prefilled map; the value of present[i] is values[i]. */
  present: string[];
  /** Value of present[i] (int32 i, or a string). */
  values: Array<number | string>;
  /** flatshare value kind of the map. */
  valueKind: 'int32' | 'string';
  /** Lookup / overwrite keys drawn from `present` (the same string objects). */
  hits: string[];
  /** Keys absent from the map. */
  misses: string[];
  /** A permutation of indices into `present`, the delete order. */
  deleteOrder: Int32Array;
  /** set-new: keys inserted into an empty map per invocation; value of insert[i] is i. */
  insert: string[];
  batch: number;
  deleteBatch: number;
  deleteReplicas: number;
  setNewMaps: number;
  setNewMaxBytes: number;
  hasher: Hasher;
}

type FsMap = SharedFlatMap<string, number | string>;

export function prefillFlatshareStr(data: StringCaseData, capacity?: number): FsMap {
  const map = new SharedFlatMap<string, number | string>({
    keys: 'string',
    values: data.valueKind,
    hasher: data.hasher,
    ...(capacity === undefined ? {} : { capacity }),
  });
  const keys = data.present;
  const values = data.values;
  for (let i = 0; i < keys.length; i++) map.set(keys[i] as string, values[i] as number | string);
  return map;
}

export function prefillMapStr(data: StringCaseData): Map<string, number | string> {
  const map = new Map<string, number | string>();
  const keys = data.present;
  const values = data.values;
  for (let i = 0; i < keys.length; i++) map.set(keys[i] as string, values[i] as number | string);
  return map;
}

const noop = (): void => {};

// ---------------------------------------------------------------- get hit, int32 values

export function strGetHitIntFlatshare(map: FsMap, data: StringCaseData): StringWorkload {
  const keys = data.hits;
  const batch = data.batch;
  let cursor = 0;
  return {
    batch,
    minTime: undefined,
    fn: () => {
      let acc = 0;
      const end = cursor + batch;
      for (let i = cursor; i < end; i++) acc = (acc + (map.get(keys[i] as string) as number)) | 0;
      cursor = end === keys.length ? 0 : end;
      sink = (sink + acc) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}

export function strGetHitIntMap(map: Map<string, number | string>, data: StringCaseData): StringWorkload {
  const keys = data.hits;
  const batch = data.batch;
  let cursor = 0;
  return {
    batch,
    minTime: undefined,
    fn: () => {
      let acc = 0;
      const end = cursor + batch;
      for (let i = cursor; i < end; i++) acc = (acc + (map.get(keys[i] as string) as number)) | 0;
      cursor = end === keys.length ? 0 : end;
      sink = (sink + acc) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}

// ---------------------------------------------------------------- get hit, string values

/** Sums the value lengths: flatshare must produce a real string (decoded from the arena); Map returns its reference. */
export function strGetHitStrFlatshare(map: FsMap, data: StringCaseData): StringWorkload {
  const keys = data.hits;
  const batch = data.batch;
  let cursor = 0;
  return {
    batch,
    minTime: undefined,
    fn: () => {
      let acc = 0;
      const end = cursor + batch;
      for (let i = cursor; i < end; i++) acc = (acc + (map.get(keys[i] as string) as string).length) | 0;
      cursor = end === keys.length ? 0 : end;
      sink = (sink + acc) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}

export function strGetHitStrMap(map: Map<string, number | string>, data: StringCaseData): StringWorkload {
  const keys = data.hits;
  const batch = data.batch;
  let cursor = 0;
  return {
    batch,
    minTime: undefined,
    fn: () => {
      let acc = 0;
      const end = cursor + batch;
      for (let i = cursor; i < end; i++) acc = (acc + (map.get(keys[i] as string) as string).length) | 0;
      cursor = end === keys.length ? 0 : end;
      sink = (sink + acc) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}

// ---------------------------------------------------------------- get miss

export function strGetMissFlatshare(map: FsMap, data: StringCaseData): StringWorkload {
  const keys = data.misses;
  const batch = data.batch;
  let cursor = 0;
  return {
    batch,
    minTime: undefined,
    fn: () => {
      let acc = 0;
      const end = cursor + batch;
      for (let i = cursor; i < end; i++) if (map.get(keys[i] as string) === undefined) acc++;
      cursor = end === keys.length ? 0 : end;
      sink = (sink + acc) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}

export function strGetMissMap(map: Map<string, number | string>, data: StringCaseData): StringWorkload {
  const keys = data.misses;
  const batch = data.batch;
  let cursor = 0;
  return {
    batch,
    minTime: undefined,
    fn: () => {
      let acc = 0;
      const end = cursor + batch;
      for (let i = cursor; i < end; i++) if (map.get(keys[i] as string) === undefined) acc++;
      cursor = end === keys.length ? 0 : end;
      sink = (sink + acc) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}

// ---------------------------------------------------------------- overwrite (int32 values)

export function strOverwriteFlatshare(map: FsMap, data: StringCaseData): StringWorkload {
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
      for (let i = cursor; i < end; i++) map.set(keys[i] as string, (i + s) | 0);
      cursor = end === keys.length ? 0 : end;
      salt = (salt + 1) | 0;
      sink = (sink + s) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}

export function strOverwriteMap(map: Map<string, number | string>, data: StringCaseData): StringWorkload {
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
      for (let i = cursor; i < end; i++) map.set(keys[i] as string, (i + s) | 0);
      cursor = end === keys.length ? 0 : end;
      salt = (salt + 1) | 0;
      sink = (sink + s) | 0;
    },
    onCycle: noop,
    lookup: (k) => map.get(k),
    size: () => map.size,
  };
}

// ---------------------------------------------------------------- delete (int32 values)

/** Same pool scheme as workloads.ts deleteFlatshare: replicas of the prefilled map, restored untimed in onCycle. */
export function strDeleteFlatshare(data: StringCaseData): StringWorkload {
  const replicas: FsMap[] = [];
  for (let r = 0; r < data.deleteReplicas; r++) replicas.push(prefillFlatshareStr(data));
  const windows = new DeleteWindows(data);
  const order = data.deleteOrder;
  const present = data.present;
  const values = data.values;
  const batch = data.deleteBatch;
  const first = replicas[0] as FsMap;
  return {
    batch,
    minTime: poolMinTime(windows.poolOps, batch),
    fn: () => {
      const w = windows.next();
      const map = replicas[windows.replicaOf(w)] as FsMap;
      const start = windows.startOf(w);
      let acc = 0;
      for (let i = start; i < start + batch; i++) if (map.delete(present[order[i] as number] as string)) acc++;
      windows.failed += batch - acc;
      sink = (sink + acc) | 0;
    },
    onCycle: () => {
      for (let u = 0; u < windows.usedCount; u++) {
        const w = windows.used[u] as number;
        const map = replicas[windows.replicaOf(w)] as FsMap;
        const start = windows.startOf(w);
        for (let i = start; i < start + batch; i++) {
          const j = order[i] as number;
          map.set(present[j] as string, values[j] as number | string);
        }
      }
      windows.usedCount = 0;
      if (windows.failed !== 0) throw new Error(`string delete benchmark (flatshare): ${windows.failed} deletes of present keys returned false`);
    },
    lookup: (k) => first.get(k),
    size: () => {
      for (const map of replicas) if (map.size !== first.size) return -1;
      return first.size;
    },
  };
}

export function strDeleteMap(data: StringCaseData): StringWorkload {
  const replicas: Array<Map<string, number | string>> = [];
  for (let r = 0; r < data.deleteReplicas; r++) replicas.push(prefillMapStr(data));
  const windows = new DeleteWindows(data);
  const order = data.deleteOrder;
  const present = data.present;
  const values = data.values;
  const batch = data.deleteBatch;
  const first = replicas[0] as Map<string, number | string>;
  return {
    batch,
    minTime: poolMinTime(windows.poolOps, batch),
    fn: () => {
      const w = windows.next();
      const map = replicas[windows.replicaOf(w)] as Map<string, number | string>;
      const start = windows.startOf(w);
      let acc = 0;
      for (let i = start; i < start + batch; i++) if (map.delete(present[order[i] as number] as string)) acc++;
      windows.failed += batch - acc;
      sink = (sink + acc) | 0;
    },
    onCycle: () => {
      for (let u = 0; u < windows.usedCount; u++) {
        const w = windows.used[u] as number;
        const map = replicas[windows.replicaOf(w)] as Map<string, number | string>;
        const start = windows.startOf(w);
        for (let i = start; i < start + batch; i++) {
          const j = order[i] as number;
          map.set(present[j] as string, values[j] as number | string);
        }
      }
      windows.usedCount = 0;
      if (windows.failed !== 0) throw new Error(`string delete benchmark (Map): ${windows.failed} deletes of present keys returned false`);
    },
    lookup: (k) => first.get(k),
    size: () => {
      for (const map of replicas) if (map.size !== first.size) return -1;
      return first.size;
    },
  };
}

// ---------------------------------------------------------------- set new keys (int32 values)

/** Insert `insert.length` new string keys into an EMPTY default-capacity map: every resize included; construction untimed. */
export function strSetNewFlatshare(data: StringCaseData): StringWorkload {
  const keys = data.insert;
  const make = (): FsMap =>
    new SharedFlatMap<string, number | string>({ keys: 'string', values: 'int32', hasher: data.hasher, maxBytes: data.setNewMaxBytes });
  const pool: FsMap[] = [];
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
      if (map === undefined) throw new Error(`string set-new benchmark (flatshare): pool of ${data.setNewMaps} empty maps per cycle exhausted`);
      for (let i = 0; i < keys.length; i++) map.set(keys[i] as string, i);
      last = map;
      sink = (sink + map.size) | 0;
    },
    onCycle: refill,
    lookup: (k) => last.get(k),
    size: () => last.size,
  };
}

export function strSetNewMap(data: StringCaseData): StringWorkload {
  const keys = data.insert;
  const pool: Array<Map<string, number>> = [];
  const refill = (): void => {
    while (pool.length < data.setNewMaps) pool.push(new Map<string, number>());
  };
  refill();
  let last = new Map<string, number>();
  return {
    batch: keys.length,
    minTime: poolMinTime(data.setNewMaps * keys.length, keys.length),
    fn: () => {
      const map = pool.pop();
      if (map === undefined) throw new Error(`string set-new benchmark (Map): pool of ${data.setNewMaps} empty maps per cycle exhausted`);
      for (let i = 0; i < keys.length; i++) map.set(keys[i] as string, i);
      last = map;
      sink = (sink + map.size) | 0;
    },
    onCycle: refill,
    lookup: (k) => last.get(k),
    size: () => last.size,
  };
}
