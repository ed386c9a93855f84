/**
 * Bad input: every rejected key, value, option and handle gets the right
 * error class and code, and the map is exactly as it was afterwards.
 * Also the FULL path: a map that reaches maxBytes keeps every acknowledged entry.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import {
  ErrorCode,
  FlatshareFullError,
  FlatshareRangeError,
  FlatshareTypeError,
  FlatshareUnsupportedError,
  SharedFlatMap,
  hashers,
  type SharedFlatMapHandle,
  type SharedFlatMapOptions,
} from '../../lib/index.js';
import {
  H_EPOCH,
  H_KEY_KIND,
  H_LAYOUT_VERSION,
  H_MAGIC,
  H_LANE_INTS,
  H_VALUE_KIND,
  INT_BYTES,
  LAYOUT_VERSION,
  ValueKindCode,
} from '../../lib/layout.js';
import { PHASE_STABLE, phaseOf } from '../../lib/epoch.js';
import { createSharedMemory } from '../../lib/memory.js';
import { assertWithinMaxBytes } from '../helpers/memory.js';
import { assertMatchesModel } from '../helpers/model.js';
import { wasmApi } from '../../lib/wasm/api.js';

type NumMap = SharedFlatMap<number, number>;

interface Snapshot {
  size: number;
  entries: [number, number][];
}

function snapshot(map: NumMap): Snapshot {
  return { size: map.size, entries: [...map.entries()].sort((a, b) => a[0] - b[0]) };
}

/** A map with some entries, tombstones and one resize behind it. */
function populated(values: 'int32' | 'float64'): NumMap {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values, capacity: 8 });
  for (let k = -20; k < 40; k++) map.set(k, k * 3);
  for (let k = 0; k < 40; k += 4) map.delete(k);
  return map;
}

/** Assert `fn` throws `code` with the given class, and the map is unchanged and still writable. */
function rejects(
  t: ExecutionContext,
  map: NumMap,
  label: string,
  fn: () => unknown,
  code: string,
  instanceOf: new (...args: never[]) => Error,
): void {
  const before = snapshot(map);
  const error = t.throws(fn, { code }, label);
  t.true(error instanceof instanceOf, `${label}: ${error?.constructor.name} is not a ${instanceOf.name}`);
  t.deepEqual(snapshot(map), before, `${label}: map changed`);
}

/** No bucket is left locked: a write and a delete of a fresh key complete. */
function stillWritable(t: ExecutionContext, map: NumMap): void {
  map.set(1_000_000, 1);
  t.is(map.get(1_000_000), 1);
  t.true(map.delete(1_000_000));
}

// ---------------------------------------------------------------- keys

const BAD_KEYS: readonly [string, unknown, new (...args: never[]) => Error][] = [
  ['undefined', undefined, TypeError],
  ['null', null, TypeError],
  ["'1'", '1', TypeError],
  ['{}', {}, TypeError],
  ['1n', 1n, TypeError],
  ['Symbol()', Symbol('k'), TypeError],
  ['1.5', 1.5, RangeError],
  ['NaN', NaN, RangeError],
  ['Infinity', Infinity, RangeError],
  ['2**31', 2 ** 31, RangeError],
  ['-(2**31)-1', -(2 ** 31) - 1, RangeError],
  ['2**32', 2 ** 32, RangeError],
];

for (const values of ['int32', 'float64'] as const) {
  test(`${values} map: bad keys get ERR_FLATSHARE_KEY from every method, map unchanged`, (t) => {
    const map = populated(values);
    for (const [name, key, cls] of BAD_KEYS) {
      const k = key as number;
      const calls: [string, () => unknown][] = [
        ['get', () => map.get(k)],
        ['has', () => map.has(k)],
        ['set', () => map.set(k, 1)],
        ['trySet', () => map.trySet(k, 1)],
        ['delete', () => map.delete(k)],
        ['getOrSet', () => map.getOrSet(k, 1)],
        ['add', () => map.add(k, 1)],
        ['compareAndSet', () => map.compareAndSet(k, undefined, 1)],
        ['compareAndSet with expected', () => map.compareAndSet(k, 3, 1)],
      ];
      for (const [method, fn] of calls) rejects(t, map, `${method}(${name})`, fn, ErrorCode.KEY, cls);
    }
    const error = t.throws(() => map.set(1.5, 1));
    t.true(error instanceof FlatshareRangeError);
    t.true(error?.message.includes('1.5') ?? false, 'the message names the bad key');
    t.true(t.throws(() => map.get(undefined as unknown as number)) instanceof FlatshareTypeError);
    stillWritable(t, map);
  });
}

// ---------------------------------------------------------------- values

test('int32 map: bad values get ERR_FLATSHARE_VALUE from every writing method, map unchanged', (t) => {
  const map = populated('int32');
  const present = 3; // 3 * 3 = 9
  const absent = 500;
  const bad: [string, unknown, new (...args: never[]) => Error][] = [
    ['1.5', 1.5, RangeError],
    ['2**31', 2 ** 31, RangeError],
    ['-(2**31)-1', -(2 ** 31) - 1, RangeError],
    ['NaN', NaN, RangeError],
    ['Infinity', Infinity, RangeError],
    ["'1'", '1', TypeError],
    ['undefined', undefined, TypeError],
    ['null', null, TypeError],
    ['1n', 1n, TypeError],
  ];
  for (const [name, value, cls] of bad) {
    const v = value as number;
    for (const key of [present, absent]) {
      rejects(t, map, `set(${key}, ${name})`, () => map.set(key, v), ErrorCode.VALUE, cls);
      rejects(t, map, `trySet(${key}, ${name})`, () => map.trySet(key, v), ErrorCode.VALUE, cls);
      rejects(t, map, `add(${key}, ${name})`, () => map.add(key, v), ErrorCode.VALUE, cls);
      rejects(t, map, `compareAndSet(${key}, 9, ${name})`, () => map.compareAndSet(key, 9, v), ErrorCode.VALUE, cls);
      if (value !== undefined) {
        // undefined is the legal "absent" expectation, so only other junk is a bad `expected`.
        rejects(t, map, `compareAndSet(${key}, ${name}, 1)`, () => map.compareAndSet(key, v, 1), ErrorCode.VALUE, cls);
      }
    }
    rejects(t, map, `getOrSet(${absent}, ${name})`, () => map.getOrSet(absent, v), ErrorCode.VALUE, cls);
  }
  stillWritable(t, map);
});

test('float64 map: non-number values get ERR_FLATSHARE_VALUE (TypeError), map unchanged', (t) => {
  const map = populated('float64');
  for (const [name, value] of [
    ["'1'", '1'],
    ['undefined', undefined],
    ['1n', 1n],
    ['null', null],
    ['{}', {}],
    ['new Number(1)', new Number(1)],
  ] as const) {
    const v = value as unknown as number;
    for (const key of [3, 500]) {
      rejects(t, map, `set(${key}, ${name})`, () => map.set(key, v), ErrorCode.VALUE, TypeError);
      rejects(t, map, `trySet(${key}, ${name})`, () => map.trySet(key, v), ErrorCode.VALUE, TypeError);
      rejects(t, map, `add(${key}, ${name})`, () => map.add(key, v), ErrorCode.VALUE, TypeError);
      rejects(t, map, `compareAndSet(${key}, 9, ${name})`, () => map.compareAndSet(key, 9, v), ErrorCode.VALUE, TypeError);
    }
    rejects(t, map, `getOrSet(500, ${name})`, () => map.getOrSet(500, v), ErrorCode.VALUE, TypeError);
  }
  stillWritable(t, map);
});

// ---------------------------------------------------------------- options

test('bad options get ERR_FLATSHARE_OPTIONS (TypeError or RangeError)', (t) => {
  const base: SharedFlatMapOptions = { keys: 'int32', values: 'int32' };
  const bad: [string, unknown][] = [
    ['capacity -1', { ...base, capacity: -1 }],
    ['capacity 1.5', { ...base, capacity: 1.5 }],
    ["capacity 'x'", { ...base, capacity: 'x' }],
    ['capacity NaN', { ...base, capacity: NaN }],
    ['capacity 2**40', { ...base, capacity: 2 ** 40 }],
    ['maxBytes 0', { ...base, maxBytes: 0 }],
    ['maxBytes -1', { ...base, maxBytes: -1 }],
    ['maxBytes 2**32+1', { ...base, maxBytes: 2 ** 32 + 1 }],
    ['maxBytes 1.5', { ...base, maxBytes: 1.5 }],
    ["maxBytes '1'", { ...base, maxBytes: '1' }],
    ['maxBytes too small for the fixed part', { ...base, maxBytes: 1024 }],
    ['maxBytes too small for capacity', { ...base, capacity: 1_000_000, maxBytes: 1 << 20 }],
    ["keys 'float'", { ...base, keys: 'float' }],
    ['keys 1', { ...base, keys: 1 }],
    ["values 'x'", { ...base, values: 'x' }],
    ['hasher {}', { ...base, hasher: {} }],
    ['hasher null', { ...base, hasher: null }],
    ['hasher with a 65-byte id', { ...base, hasher: { ...hashers.default, id: 'x'.repeat(65), hashInt: () => 0, hashString: () => 0 } }],
    ['options null', null],
    ["options 'x'", 'x'],
  ];
  for (const [label, options] of bad) {
    const error = t.throws(() => new SharedFlatMap(options as SharedFlatMapOptions), { code: ErrorCode.OPTIONS }, label);
    t.true(error instanceof TypeError || error instanceof RangeError, label);
  }
  const tooSmall = t.throws(() => new SharedFlatMap({ ...base, capacity: 1_000_000, maxBytes: 1 << 20 }));
  t.regex(tooSmall?.message ?? '', /maxBytes/);
  // The limits themselves are accepted.
  t.notThrows(() => new SharedFlatMap({ ...base, maxBytes: 2 ** 32 }));
  t.notThrows(() => new SharedFlatMap({ ...base, capacity: 0 }));
});

test('operations a value kind does not define get ERR_FLATSHARE_UNSUPPORTED and change nothing', (t) => {
  for (const values of ['string', 'bytes', 'json'] as const) {
    const map = new SharedFlatMap<string, unknown>({ keys: 'string', values });
    const sample = values === 'bytes' ? new Uint8Array([1]) : values === 'json' ? { a: 1 } : 'x';
    map.set('k', sample);
    const error = t.throws(() => map.add('k', 1), { code: ErrorCode.UNSUPPORTED }, values);
    t.true(error instanceof FlatshareUnsupportedError && error instanceof TypeError, values);
    t.deepEqual(map.get('k'), sample, values);
    if (values !== 'string') {
      t.throws(() => map.compareAndSet('k', sample, sample), { code: ErrorCode.UNSUPPORTED }, values);
      t.deepEqual(map.get('k'), sample, values);
    }
    t.is(map.size, 1, values);
  }
});

test('the documented defaults are string keys and json values', (t) => {
  const map = new SharedFlatMap<string, unknown>();
  t.is(map.keyKind, 'string');
  t.is(map.valueKind, 'json');
  map.set('a', { b: [1, 'two', null] });
  t.deepEqual(map.get('a'), { b: [1, 'two', null] });
});

// ---------------------------------------------------------------- attach

/** A byte-for-byte copy of a map's memory (same size), to corrupt freely. */
function copyHandle(handle: SharedFlatMapHandle, edit?: (words: Int32Array) => void): SharedFlatMapHandle {
  const source = handle.memory.buffer;
  const copy = createSharedMemory(source.byteLength, source.byteLength);
  new Uint8Array(copy.buffer).set(new Uint8Array(source));
  edit?.(new Int32Array(copy.buffer, 0, copy.byteLength / INT_BYTES));
  return { ...handle, memory: copy.memory };
}

test('attach rejects things that are not handles with ERR_FLATSHARE_HANDLE', (t) => {
  const junk: [string, unknown][] = [
    ['undefined', undefined],
    ['null', null],
    ['{}', {}],
    ['a number', 42],
    ['an ArrayBuffer', { memory: new ArrayBuffer(1 << 16) }],
    ['a SharedArrayBuffer', { memory: new SharedArrayBuffer(1 << 16) }],
    ['a layout-2 handle (growable SharedArrayBuffer, no memory)', { flatshare: 2, buffer: new SharedArrayBuffer(1 << 16) }],
    ['a non-shared WebAssembly.Memory', { memory: new (wasmApi as unknown as { Memory: new (d: { initial: number }) => object }).Memory({ initial: 1 }) }],
    ['a zero-filled shared memory', { memory: createSharedMemory(1 << 16, 1 << 20).memory }],
  ];
  for (const [label, handle] of junk) {
    const error = t.throws(() => SharedFlatMap.attach(handle as SharedFlatMapHandle), { code: ErrorCode.HANDLE }, label);
    t.true(error instanceof TypeError || error instanceof RangeError, label);
  }
});

test('attach checks magic, layout version, kinds and lane size of a copied buffer (and accepts an intact copy)', (t) => {
  const map = populated('int32');
  const intact = SharedFlatMap.attach<number, number>(copyHandle(map.handle));
  t.deepEqual(snapshot(intact), snapshot(map), 'the copy approach works: an intact copy attaches');

  const badMagic = copyHandle(map.handle, (w) => (w[H_MAGIC] = 0x12345678));
  t.throws(() => SharedFlatMap.attach(badMagic), { instanceOf: FlatshareTypeError, code: ErrorCode.HANDLE });

  const badVersion = copyHandle(map.handle, (w) => (w[H_LAYOUT_VERSION] = LAYOUT_VERSION + 1));
  const error = t.throws(() => SharedFlatMap.attach(badVersion), {
    instanceOf: FlatshareRangeError,
    code: ErrorCode.LAYOUT_VERSION,
  });
  t.regex(error?.message ?? '', new RegExp(`${LAYOUT_VERSION + 1}`));

  const badKind = copyHandle(map.handle, (w) => (w[H_KEY_KIND] = 99));
  t.throws(() => SharedFlatMap.attach(badKind), { code: ErrorCode.HANDLE });

  // A known kind whose lanes have another size than the header's H_LANE_INTS (the wasm
  // probes assume the lane size, and so the lanes per bucket, of their kind), and a lane
  // size that no kind has.
  const otherValueKind = copyHandle(map.handle, (w) => (w[H_VALUE_KIND] = ValueKindCode.float64));
  const laneError = t.throws(() => SharedFlatMap.attach(otherValueKind), { instanceOf: FlatshareTypeError, code: ErrorCode.HANDLE });
  t.regex(laneError?.message ?? '', /2 words per lane; int32 keys with float64 values take 3/);
  const badLaneInts = copyHandle(map.handle, (w) => (w[H_LANE_INTS] = 7));
  t.throws(() => SharedFlatMap.attach(badLaneInts), { instanceOf: FlatshareTypeError, code: ErrorCode.HANDLE });
  t.deepEqual(snapshot(map), snapshot(intact), 'the original is untouched');
});

test('attach with a hasher of a different id gets ERR_FLATSHARE_HASHER; the same id works', (t) => {
  const map = populated('int32');
  t.throws(() => SharedFlatMap.attach(map.handle, { hasher: hashers.murmur3({ seed: 1 }) }), {
    instanceOf: FlatshareRangeError,
    code: ErrorCode.HASHER,
  });
  t.throws(() => SharedFlatMap.attach(map.handle, { hasher: {} as never }), { code: ErrorCode.OPTIONS });
  const same = SharedFlatMap.attach<number, number>(map.handle, { hasher: hashers.murmur3({ seed: 0 }) });
  t.is(same.get(1), 3);
});

test('a map created with xxhash32 cannot be attached without its hasher', async (t) => {
  const hasher = await hashers.xxhash32({ seed: 5 });
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', hasher });
  for (let k = 0; k < 200; k++) map.set(k, -k);
  const error = t.throws(() => SharedFlatMap.attach(map.handle), { instanceOf: FlatshareRangeError, code: ErrorCode.HASHER });
  t.regex(error?.message ?? '', /xxhash32/);
  const otherSeed = await hashers.xxhash32({ seed: 6 });
  t.throws(() => SharedFlatMap.attach(map.handle, { hasher: otherSeed }), {
    code: ErrorCode.HASHER,
  });
  t.throws(() => SharedFlatMap.attach(map.handle, { hasher: hashers.default }), { code: ErrorCode.HASHER });
  const attached = SharedFlatMap.attach<number, number>(map.handle, { hasher: await hashers.xxhash32({ seed: 5 }) });
  t.is(attached.size, 200);
  for (let k = 0; k < 200; k++) if (attached.get(k) !== -k) t.fail(`key ${k}`);
});

// ---------------------------------------------------------------- FULL

/**
 * 80 KiB (20,480 words): the first table has 4 buckets of 7 lanes (capacity
 * 16), and each resize doubles it, up to 512 buckets (words 10,944 to 19,184);
 * the 1,024-bucket table (16,496 words) no longer fits, so the map is full at
 * 2,867 entries (insertBudget(512, 7)). After deletes, a rehash still fits: the
 * retired regions below the current table (8,464 words from word 2,480) hold a
 * table of 526 buckets, while the old one stays readable.
 */
const FULL_MAX_BYTES = 80 * 1024;

/** A map with maxBytes FULL_MAX_BYTES filled with keys 0, 1, 2, ... until an insert throws. */
function fillUntilFull(t: ExecutionContext): { map: NumMap; model: Map<number, number>; error: unknown; next: number } {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 16, maxBytes: FULL_MAX_BYTES });
  const model = new Map<number, number>();
  for (let k = 0; k < 100_000; k++) {
    try {
      map.set(k, k * 7 + 1);
    } catch (error) {
      return { map, model, error, next: k };
    }
    model.set(k, k * 7 + 1);
  }
  t.fail('the map never got full');
  throw new Error('unreachable');
}


test('FULL: set throws FlatshareFullError; acknowledged entries survive; nothing else changes', (t) => {
  const { map, model, error, next } = fillUntilFull(t);
  t.log(`full after ${model.size} entries`);
  t.true(model.size > 1000, 'several resizes happened before the map got full');
  t.true(error instanceof FlatshareFullError);
  t.true(error instanceof RangeError);
  const full = error as FlatshareFullError;
  t.is(full.code, 'ERR_FLATSHARE_FULL');
  t.is(full.maxBytes, FULL_MAX_BYTES);
  t.true(full.requestedBytes > FULL_MAX_BYTES);
  assertWithinMaxBytes(t, map as SharedFlatMap<unknown, unknown>, FULL_MAX_BYTES);
  t.is(phaseOf(Atomics.load(SharedFlatMap.unsafeExposeInternals(map).words, H_EPOCH)), PHASE_STABLE);

  assertMatchesModel(t, map, model, 'after FULL');
  t.false(map.has(next), 'the rejected key is absent');

  // Every inserting operation on a new key fails the same way, leaving the map unchanged.
  const before = snapshot(map);
  t.is(map.trySet(next, 1), 'full');
  t.throws(() => map.set(next, 1), { instanceOf: FlatshareFullError, code: ErrorCode.FULL });
  t.throws(() => map.getOrSet(next, 1), { code: ErrorCode.FULL });
  t.throws(() => map.add(next, 1), { code: ErrorCode.FULL });
  t.throws(() => map.compareAndSet(next, undefined, 1), { code: ErrorCode.FULL });
  t.deepEqual(snapshot(map), before);

  // Writes that need no new lane still work on a full map.
  t.is(map.trySet(0, 42), 'ok');
  model.set(0, 42);
  t.is(map.add(1, 1), 9);
  model.set(1, 9);
  t.true(map.compareAndSet(2, 15, 16));
  model.set(2, 16);
  t.is(map.getOrSet(3, 0), 22);
  assertMatchesModel(t, map, model, 'after in-place writes');
});

test('FULL: deleting entries lets inserts succeed again (same-size rehash drops tombstones)', (t) => {
  const { map, model, next } = fillUntilFull(t);
  const genBefore = SharedFlatMap.unsafeExposeInternals(map).gen;
  const deleted = Math.floor(model.size / 4);
  for (let k = 0; k < deleted; k++) {
    t.true(map.delete(k * 2));
    model.delete(k * 2);
  }
  // As many new keys as were deleted fit again.
  for (let i = 0; i < deleted; i++) {
    const key = next + i;
    const status = map.trySet(key, -key);
    if (status !== 'ok') {
      t.fail(`insert ${i} of ${deleted} after deleting returned ${status}`);
      break;
    }
    model.set(key, -key);
  }
  const internals = SharedFlatMap.unsafeExposeInternals(map);
  t.true(internals.gen > genBefore, 'a rehash happened');
  assertWithinMaxBytes(t, map as SharedFlatMap<unknown, unknown>, FULL_MAX_BYTES);
  assertMatchesModel(t, map, model, 'after delete + reinsert');
});

test('FULL: clear() on a full map works and the map is usable again', (t) => {
  const { map } = fillUntilFull(t);
  map.clear();
  t.is(map.size, 0);
  const model = new Map<number, number>();
  for (let k = 0; k < 1000; k++) {
    map.set(k + 5, k);
    model.set(k + 5, k);
  }
  assertMatchesModel(t, map, model, 'after clear and refill');
});
