/**
 * The string-key child job (started through case.ts): one (operation, value
 * kind, hasher, size) on 16-char ASCII keys, flatshare and Map measured in the
 * same process on the same string objects, in interleaved rounds
 * (measure.ts). Also the string -> string part of the bytes-per-entry job.
 *
 * Keys are the multi-worker benchmark's 16-char keys (keys.ts `stringKey`:
 * `key:` + 8 hex digits + `:` + 3 hex digits) of distinct random int32s.
 * Every key and value string is made flat (sequential one-byte) before use, so
 * neither side pays for flattening a cons string inside a timed loop.
 */
import { SharedFlatMap, hashers, type Hasher } from '../lib/index.js';
import { flatStringKeys } from './keys.js';
import { SmokeCheckError, log, measureAll } from './measure.js';
import { Prng, distinctKeys, shuffled } from './prng.js';
import {
  prefillFlatshareStr,
  prefillMapStr,
  readStringSink,
  strDeleteFlatshare,
  strDeleteMap,
  strGetHitIntFlatshare,
  strGetHitIntMap,
  strGetHitStrFlatshare,
  strGetHitStrMap,
  strGetMissFlatshare,
  strGetMissMap,
  strOverwriteFlatshare,
  strOverwriteMap,
  strSetNewFlatshare,
  strSetNewMap,
  type StringCaseData,
  type StringWorkload,
} from './string-workloads.js';
import type { HasherName, ReadPath, StringBytesRow, StringCaseConfig, StringCaseOutput, StringValueKind } from './types.js';
import { TABLE_BUCKET_INTS } from '../lib/layout.js';

/** Same constants as case.ts (int32 keys), so the two families are comparable. */
const BATCH = 1000;
const LOOKUP_MIN = 1 << 16;
const LOOKUP_MAX = 1 << 20;
const POOL_ENTRIES = 200_000;
const GC_EVERY_CYCLE_FROM = 100_000;
const MIB = 1 << 20;
/** Value lengths: `short` values are SHORT_MIN..SHORT_MAX chars; `1k` values 1,024 chars. */
const SHORT_MIN = 10;
const SHORT_MAX = 20;
const LONG_CHARS = 1024;
/** string -> string bytes-per-entry job: values of exactly this many chars (keys are 16). */
const BYTES_VALUE_CHARS = 16;
/** set-new maxBytes per entry (string key -> int32: a 16 B slot at >= 40 % load, a 20 B key block, retired tables): ample, and far below the 1 GiB default each of the many pool maps would otherwise reserve. */
const SET_NEW_BYTES_PER_ENTRY = 256;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';

function roundUp(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}

/** A flat random ASCII string of `length` chars. */
function randomString(prng: Prng, length: number): string {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = ALPHABET.charCodeAt(prng.below(ALPHABET.length));
  return bytes.toString('latin1');
}

function makeValues(prng: Prng, kind: StringValueKind, count: number): Array<number | string> {
  const out = new Array<number | string>(count);
  for (let i = 0; i < count; i++) {
    if (kind === 'int32') out[i] = i;
    else if (kind === 'short') out[i] = randomString(prng, SHORT_MIN + prng.below(SHORT_MAX - SHORT_MIN + 1));
    else out[i] = randomString(prng, LONG_CHARS);
  }
  return out;
}

export async function makeHasher(name: HasherName): Promise<Hasher> {
  switch (name) {
    case 'murmur3':
      return hashers.default;
    case 'fnv1a':
      return hashers.fnv1a();
    case 'xxhash32':
      return hashers.xxhash32();
    case 'xxhash64':
      return hashers.xxhash64();
  }
}

function makeData(config: StringCaseConfig, hasher: Hasher): StringCaseData {
  const prng = new Prng(config.seed);
  const size = config.size;
  const lookups = roundUp(Math.min(LOOKUP_MAX, Math.max(LOOKUP_MIN, size)), BATCH);
  const insert = config.op === 'set-new';
  const presentInts = insert ? new Int32Array(0) : distinctKeys(prng, size);
  const present = flatStringKeys(presentInts);
  const values = makeValues(prng, config.values, present.length);
  const hits: string[] = [];
  if (config.op === 'get-hit' || config.op === 'overwrite') for (let i = 0; i < lookups; i++) hits.push(present[prng.below(present.length)] as string);
  const misses = config.op === 'get-miss' ? flatStringKeys(distinctKeys(prng, lookups, new Set(presentInts))) : [];
  return {
    present,
    values,
    valueKind: config.values === 'int32' ? 'int32' : 'string',
    hits,
    misses,
    deleteOrder: config.op === 'delete' ? shuffled(prng, Int32Array.from(presentInts.keys())) : new Int32Array(0),
    insert: insert ? flatStringKeys(distinctKeys(prng, size)) : [],
    batch: BATCH,
    deleteBatch: Math.min(BATCH, Math.floor(size / 2)),
    deleteReplicas: Math.max(1, Math.ceil(POOL_ENTRIES / size)),
    setNewMaps: Math.max(2, Math.ceil(POOL_ENTRIES / size)),
    setNewMaxBytes: Math.max(16 * MIB, roundUp(size * SET_NEW_BYTES_PER_ENTRY, MIB)),
    hasher,
  };
}

function workloads(config: StringCaseConfig, data: StringCaseData): { flatshare: StringWorkload; Map: StringWorkload } {
  const intValues = config.values === 'int32';
  if (!intValues && config.op !== 'get-hit') throw new Error(`string cases: ${config.op} is measured with int32 values only`);
  switch (config.op) {
    case 'get-hit':
      return intValues
        ? { flatshare: strGetHitIntFlatshare(prefillFlatshareStr(data), data), Map: strGetHitIntMap(prefillMapStr(data), data) }
        : { flatshare: strGetHitStrFlatshare(prefillFlatshareStr(data), data), Map: strGetHitStrMap(prefillMapStr(data), data) };
    case 'get-miss':
      return { flatshare: strGetMissFlatshare(prefillFlatshareStr(data), data), Map: strGetMissMap(prefillMapStr(data), data) };
    case 'overwrite':
      return { flatshare: strOverwriteFlatshare(prefillFlatshareStr(data), data), Map: strOverwriteMap(prefillMapStr(data), data) };
    case 'delete':
      return { flatshare: strDeleteFlatshare(data), Map: strDeleteMap(data) };
    case 'set-new':
      return { flatshare: strSetNewFlatshare(data), Map: strSetNewMap(data) };
  }
}

/** flatshare and Map agree on every key the case uses, and on size (see case.ts smokeCheck). */
function smokeCheck(stage: string, config: StringCaseConfig, data: StringCaseData, fs: StringWorkload, map: StringWorkload, valuesMayDiffer = false): void {
  const expectedSize = config.op === 'set-new' ? data.insert.length : data.present.length;
  if (fs.size() !== map.size() || fs.size() !== expectedSize) {
    throw new SmokeCheckError(`${stage}: size flatshare=${fs.size()} Map=${map.size()} expected=${expectedSize}`);
  }
  let checked = 0;
  for (const keys of [data.present, data.hits, data.misses, data.insert]) {
    for (const k of keys) {
      const a = fs.lookup(k);
      const b = map.lookup(k);
      const agree = valuesMayDiffer ? (a === undefined) === (b === undefined) : a === b;
      if (!agree) throw new SmokeCheckError(`${stage}: key ${k}: flatshare.get=${String(a).slice(0, 40)} Map.get=${String(b).slice(0, 40)}`);
      checked++;
    }
  }
  log(`${stage}: flatshare and Map agree on ${checked} string-key lookups, size ${expectedSize}`);
}

export async function runStringTiming(config: StringCaseConfig, readPath: ReadPath): Promise<StringCaseOutput> {
  const started = performance.now();
  const hasher = await makeHasher(config.hasher);
  const data = makeData(config, hasher);
  const w = workloads(config, data);
  w.flatshare.fn();
  w.flatshare.onCycle();
  w.Map.fn();
  w.Map.onCycle();
  smokeCheck('smoke check before timing', config, data, w.flatshare, w.Map);
  const spec = {
    name: `string ${config.op} ${config.values} ${config.hasher} ${config.size}`,
    maxTime: config.maxTime,
    minSamples: config.minSamples,
    impls: config.impls,
    gcEachCycle: config.op === 'set-new' && data.insert.length >= GC_EVERY_CYCLE_FROM,
  };
  const label = readPath === 'strict' ? 'flatshare-strict' : 'flatshare';
  const measurements = measureAll(spec, w, { Map: 'Map', flatshare: `${label} (${config.hasher})` });
  smokeCheck('check after timing', config, data, w.flatshare, w.Map, config.op === 'overwrite');
  return {
    kind: 'string-timing',
    op: config.op,
    values: config.values,
    hasher: config.hasher,
    size: config.size,
    seed: config.seed,
    readPath,
    measurements,
    sink: readStringSink(),
    wallSeconds: (performance.now() - started) / 1000,
  };
}

/** Shared bytes per entry, string -> string: 16-char keys, 16-char values, presized and grown. */
export function runStringBytes(sizes: readonly number[], seed: number): StringBytesRow[] {
  const rows: StringBytesRow[] = [];
  for (const size of sizes) {
    const prng = new Prng(seed);
    const keys = flatStringKeys(distinctKeys(prng, size));
    const values: string[] = [];
    for (let i = 0; i < size; i++) values.push(randomString(prng, BYTES_VALUE_CHARS));
    const presized = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: size });
    const grown = new SharedFlatMap<string, string>({ keys: 'string', values: 'string' });
    let keyBytes = 0;
    let valueBytes = 0;
    for (let i = 0; i < size; i++) {
      const k = keys[i] as string;
      const v = values[i] as string;
      presized.set(k, v);
      grown.set(k, v);
      keyBytes += Buffer.byteLength(k, 'latin1');
      valueBytes += Buffer.byteLength(v, 'latin1');
    }
    if (presized.size !== size || grown.size !== size) throw new SmokeCheckError(`string bytes: size ${presized.size}/${grown.size} != ${size}`);
    for (let i = 0; i < size; i++) {
      const k = keys[i] as string;
      if (presized.get(k) !== values[i] || grown.get(k) !== values[i]) throw new SmokeCheckError(`string bytes: wrong value for ${k}`);
    }
    const internals = SharedFlatMap.unsafeExposeInternals(grown as SharedFlatMap<unknown, unknown>);
    const tableBytes = (internals.table.first - internals.table.base + internals.table.buckets * TABLE_BUCKET_INTS) * 4;
    const kb = keyBytes / size;
    const vb = valueBytes / size;
    const presizedBytes = presized.handle.memory.buffer.byteLength;
    const grownBytes = grown.handle.memory.buffer.byteLength;
    rows.push({
      size,
      keyBytes: kb,
      valueBytes: vb,
      targetBytesPerEntry: 1.5 * kb + vb + 24,
      presizedBytes,
      presizedBytesPerEntry: presizedBytes / size,
      grownBytes,
      grownBytesPerEntry: grownBytes / size,
      grownTableBytesPerEntry: tableBytes / size,
      grownOutsideTableBytesPerEntry: (grownBytes - tableBytes) / size,
    });
    log(`string bytes ${size}: presized ${(presizedBytes / size).toFixed(2)} B/entry, grown ${(grownBytes / size).toFixed(2)} B/entry (target ${(1.5 * kb + vb + 24).toFixed(1)})`);
  }
  return rows;
}
