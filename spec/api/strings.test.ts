/**
 * Map-surface behaviour of string keys and of string / bytes / json values.
 *
 * - String keys with every value kind, int32 keys with every arena value kind:
 *   set / get / has / delete / size / getOrSet / compareAndSet / add, iteration
 *   in all four forms, clear.
 * - bytes values come back as a fresh Uint8Array (never a view of shared
 *   memory); json values as a new parsed copy.
 * - attach: in the same thread, and in real Workers in both directions.
 * - Bad input: the right class and code, and the map exactly as it was.
 * - ERR_FLATSHARE_FULL with string values: acknowledged entries stay, and
 *   space freed by deletes serves inserts of the same size again: by a rehash
 *   when a table region fits, else by freeing the TOMBSTONE lanes' key blocks
 *   in place.
 * - White-box, that in-place reclaim (reclaimTombstoneKeys): it scans every
 *   bucket (the KEY_REF column of its TOMBSTONE lanes) only when a delete may
 *   have left a block since its last barren scan, and a bucket a writer holds
 *   (SEQ locked) is skipped, its blocks freed by the next scan.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { Worker } from 'node:worker_threads';
import {
  ErrorCode,
  FlatshareFullError,
  FlatshareRangeError,
  FlatshareTypeError,
  FlatshareUnsupportedError,
  SharedFlatMap,
  type SharedFlatMapHandle,
  type ValueKindOption,
} from '../../lib/index.js';
import { C_KEY_REF, H_ALLOC_TOP, MAX_KEY_BYTES, MAX_VALUE_BYTES, NULL_BLOCK } from '../../lib/layout.js';
import { B_META, bucketAt, laneWordOffset, tombstoneLanes } from '../../lib/bucket.js';
import { LOCKED } from '../../lib/seqlock.js';
import { assertWithinMaxBytes } from '../helpers/memory.js';
import { assertMatchesModel } from '../helpers/model.js';
import { spyAtomics } from '../helpers/atomics-spy.js';
import { blockIntsFor, blockSizeFor, classFor, freeListLength, type ArenaHost } from '../../lib/arena.js';

type AnyMap = SharedFlatMap<unknown, unknown>;

/** A comparable rendering of a value of any kind (bytes as arrays, json as its text). */
function render(value: unknown): unknown {
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (typeof value === 'number' && Number.isNaN(value)) return 'NaN';
  if (typeof value === 'object' && value !== null) return { json: JSON.stringify(value) };
  return value;
}

interface Snapshot {
  size: number;
  entries: [string, unknown][];
}

function keyString(key: unknown): string {
  return typeof key === 'string' ? `s:${key}` : `n:${String(key)}`;
}

function snapshot(map: AnyMap): Snapshot {
  const entries = [...map.entries()].map(([k, v]): [string, unknown] => [keyString(k), render(v)]);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { size: map.size, entries };
}

/** Per value kind: distinct sample values, and one more. */
const SAMPLES: Record<ValueKindOption, unknown[]> = {
  int32: [0, -1, 2 ** 31 - 1, -(2 ** 31), 42],
  float64: [0.5, -0, NaN, Infinity, 1e300],
  string: ['', 'x', 'é\x80', '漢字😀', 'y'.repeat(5000)],
  bytes: [new Uint8Array(0), new Uint8Array([1, 2, 3]), new Uint8Array(1000).fill(7), Buffer.from('buf'), new Uint8Array([255])],
  json: [null, 0, 'text', [1, 'two', { three: [3] }], { nested: { deep: [true, false, null] }, 'ключ': 'значение' }],
};
const VALUE_KINDS = Object.keys(SAMPLES) as ValueKindOption[];
const ARENA_KINDS: ValueKindOption[] = ['string', 'bytes', 'json'];

const STRING_KEYS = ['', 'a', 'é', 'ключ', '😀', '\ud800', 'k'.repeat(100), 'long-' + 'é'.repeat(3000)];

function same(t: ExecutionContext, actual: unknown, expected: unknown, label: string): void {
  t.deepEqual(render(actual), render(expected), label);
}

// ---------------------------------------------------------------- Map surface

for (const values of VALUE_KINDS) {
  test(`string keys, ${values} values: set / get / has / delete / size / getOrSet / iteration / clear like a Map`, (t) => {
    const map = new SharedFlatMap<string, unknown>({ keys: 'string', values, capacity: 2 });
    const samples = SAMPLES[values];
    const model = new Map<string, unknown>();
    STRING_KEYS.forEach((key, i) => {
      const value = samples[i % samples.length];
      t.is(map.set(key, value), map, 'set returns the map');
      model.set(key, value);
    });
    t.is(map.size, STRING_KEYS.length);
    for (const [key, value] of model) {
      same(t, map.get(key), value, `get ${JSON.stringify(key.slice(0, 10))}`);
      t.true(map.has(key));
    }
    for (const absent of ['b', 'é ', 'A', '\ud801', 'k'.repeat(99), 'k'.repeat(101), 'x'.repeat(MAX_KEY_BYTES + 1)]) {
      t.is(map.get(absent), undefined, `absent ${absent.slice(0, 10)}`);
      t.false(map.has(absent));
      t.false(map.delete(absent));
    }
    // Overwrite every key with another sample.
    STRING_KEYS.forEach((key, i) => {
      const value = samples[(i + 1) % samples.length];
      map.set(key, value);
      model.set(key, value);
    });
    for (const [key, value] of model) same(t, map.get(key), value, 'after overwrite');

    // getOrSet: present -> the stored value; absent -> inserts.
    const first = STRING_KEYS[0] as string;
    same(t, map.getOrSet(first, samples[3]), model.get(first), 'getOrSet on a present key');
    same(t, map.getOrSet('fresh', samples[2]), samples[2], 'getOrSet on an absent key');
    model.set('fresh', samples[2]);
    same(t, map.get('fresh'), samples[2], 'getOrSet stored it');

    // delete, then revive the tombstone.
    t.true(map.delete('ключ'));
    model.delete('ключ');
    t.false(map.delete('ключ'));
    t.is(map.get('ключ'), undefined);
    t.false(map.has('ключ'));
    map.set('ключ', samples[4]);
    model.set('ключ', samples[4]);

    // Iteration, all four forms.
    const expected = [...model].map(([k, v]): [string, unknown] => [keyString(k), render(v)]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
    t.deepEqual(snapshot(map as AnyMap), { size: model.size, entries: expected });
    t.deepEqual([...map.keys()].sort(), [...model.keys()].sort());
    t.deepEqual(
      [...map.values()].map((v) => JSON.stringify(render(v))).sort(),
      [...model.values()].map((v) => JSON.stringify(render(v))).sort(),
    );
    const visited: string[] = [];
    map.forEach((value, key, self) => {
      t.is(self, map);
      same(t, value, model.get(key), `forEach ${key.slice(0, 10)}`);
      visited.push(key);
    });
    t.deepEqual(visited.sort(), [...model.keys()].sort());
    t.deepEqual(
      [...map].map(([k]) => k).sort(),
      [...model.keys()].sort(),
    );

    // clear, then the map is usable again.
    map.clear();
    t.is(map.size, 0);
    t.deepEqual([...map], []);
    for (const key of STRING_KEYS) t.is(map.get(key), undefined);
    map.set('after', samples[1]);
    same(t, map.get('after'), samples[1], 'set after clear');
    t.is(map.size, 1);
  });
}

for (const values of ARENA_KINDS) {
  test(`int32 keys, ${values} values: set / get / delete / getOrSet / iteration / clear`, (t) => {
    const map = new SharedFlatMap<number, unknown>({ keys: 'int32', values, capacity: 2 });
    const samples = SAMPLES[values];
    const model = new Map<number, unknown>();
    for (let k = -50; k < 250; k++) {
      const value = samples[(k + 50) % samples.length];
      map.set(k, value);
      model.set(k, value);
    }
    for (let k = -50; k < 250; k += 3) {
      t.true(map.delete(k));
      model.delete(k);
    }
    for (let k = -50; k < 250; k += 6) {
      map.set(k, samples[1]);
      model.set(k, samples[1]);
    }
    t.is(map.size, model.size);
    let wrong = 0;
    for (const [k, v] of model) if (JSON.stringify(render(map.get(k))) !== JSON.stringify(render(v))) wrong++;
    t.is(wrong, 0);
    t.is(map.get(1000), undefined);
    same(t, map.getOrSet(1000, samples[2]), samples[2], 'getOrSet absent');
    same(t, map.getOrSet(1000, samples[3]), samples[2], 'getOrSet present');
    model.set(1000, samples[2]);
    const entries = [...map].map(([k, v]): [number, unknown] => [k, render(v)]).sort((a, b) => a[0] - b[0]);
    const want = [...model].map(([k, v]): [number, unknown] => [k, render(v)]).sort((a, b) => a[0] - b[0]);
    t.deepEqual(entries, want);
    map.clear();
    t.is(map.size, 0);
    t.deepEqual([...map.keys()], []);
  });
}

test('bytes values: get returns a fresh Uint8Array each time; mutating it or the input does not change the map', (t) => {
  for (const keys of ['string', 'int32'] as const) {
    const map = new SharedFlatMap<string | number, Uint8Array>({ keys, values: 'bytes' });
    const key = keys === 'string' ? 'blob' : 7;
    const input = new Uint8Array([1, 2, 3, 4, 5]);
    map.set(key, input);
    input[0] = 99; // the map copied it
    const a = map.get(key) as Uint8Array;
    const b = map.get(key) as Uint8Array;
    t.true(a instanceof Uint8Array);
    t.deepEqual([...a], [1, 2, 3, 4, 5]);
    t.not(a, b, 'two gets, two arrays');
    t.not(a.buffer, b.buffer);
    t.false(a.buffer instanceof SharedArrayBuffer, 'not a view of shared memory');
    a[1] = 42;
    a.fill(0);
    t.deepEqual([...(map.get(key) as Uint8Array)], [1, 2, 3, 4, 5]);
    // Subarrays and Buffers are stored by their own bytes only.
    const big = new Uint8Array([9, 8, 7, 6, 5, 4]);
    map.set(key, big.subarray(2, 4));
    t.deepEqual([...(map.get(key) as Uint8Array)], [7, 6]);
    map.set(key, Buffer.from('héllo'));
    t.deepEqual(Buffer.from(map.get(key) as Uint8Array).toString(), 'héllo');
    // Iteration hands out fresh copies too.
    for (const [, value] of map) value.fill(1);
    t.deepEqual(Buffer.from(map.get(key) as Uint8Array).toString(), 'héllo');
  }
});

test('json values: get returns a new parsed copy; mutating it or the input does not change the map', (t) => {
  const map = new SharedFlatMap<string, { list: number[]; inner: { n: number } }>({ keys: 'string', values: 'json' });
  const input = { list: [1, 2], inner: { n: 1 } };
  map.set('doc', input);
  input.list.push(3);
  input.inner.n = 2;
  const a = map.get('doc');
  const b = map.get('doc');
  t.deepEqual(a, { list: [1, 2], inner: { n: 1 } });
  t.not(a, b);
  t.not(a?.inner, b?.inner);
  a?.list.push(4);
  t.deepEqual(map.get('doc'), { list: [1, 2], inner: { n: 1 } });
  for (const [, value] of map) value.list.length = 0;
  t.deepEqual(map.get('doc'), { list: [1, 2], inner: { n: 1 } });
  // toJSON is honoured (Date -> ISO string), as JSON.stringify does.
  const dated = new SharedFlatMap<string, unknown>({ keys: 'string', values: 'json' });
  dated.set('when', { at: new Date(0) });
  t.deepEqual(dated.get('when'), { at: '1970-01-01T00:00:00.000Z' });
});

test('compareAndSet: string values compare by ===; bytes and json are unsupported; add is unsupported for arena values', (t) => {
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string' });
  t.false(map.compareAndSet('k', 'a', 'b'), 'absent, expected a value');
  t.true(map.compareAndSet('k', undefined, 'é'), 'absent, expected absent');
  t.false(map.compareAndSet('k', undefined, 'x'), 'present, expected absent');
  t.false(map.compareAndSet('k', 'e', 'x'));
  t.false(map.compareAndSet('k', 'é ', 'x'));
  t.true(map.compareAndSet('k', 'é', '😀'.repeat(100)));
  t.true(map.compareAndSet('k', '😀'.repeat(100), ''));
  t.true(map.compareAndSet('k', '', 'end'));
  t.is(map.get('k'), 'end');
  t.is(map.size, 1);
  t.throws(() => map.add('k', 1), { code: ErrorCode.UNSUPPORTED, instanceOf: FlatshareUnsupportedError });
  for (const values of ['bytes', 'json'] as const) {
    const other = new SharedFlatMap<string, unknown>({ keys: 'string', values });
    other.set('k', SAMPLES[values][1]);
    const before = snapshot(other as AnyMap);
    t.throws(() => other.compareAndSet('k', SAMPLES[values][1], SAMPLES[values][2]), {
      code: ErrorCode.UNSUPPORTED,
      instanceOf: FlatshareUnsupportedError,
    });
    t.throws(() => other.add('k', 1), { code: ErrorCode.UNSUPPORTED });
    t.deepEqual(snapshot(other as AnyMap), before);
  }
  // Numeric values under string keys keep add and compareAndSet.
  const counters = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32' });
  t.is(counters.add('hits/é', 2), 2);
  t.is(counters.add('hits/é', 3), 5);
  t.true(counters.compareAndSet('hits/é', 5, 6));
  const floats = new SharedFlatMap<string, number>({ keys: 'string', values: 'float64' });
  t.is(floats.add('x', 0.5), 0.5);
  t.true(floats.compareAndSet('x', 0.5, NaN));
  t.true(floats.compareAndSet('x', NaN, 1));
});

// ---------------------------------------------------------------- attach

test('attach in the same thread: both views see each other\'s writes across resizes', (t) => {
  const map = new SharedFlatMap<string, unknown>({ keys: 'string', values: 'json', capacity: 1 });
  const view = SharedFlatMap.attach<string, unknown>(map.handle);
  t.is(view.keyKind, 'string');
  t.is(view.valueKind, 'json');
  for (let i = 0; i < 2000; i++) (i % 2 === 0 ? map : view).set(`k${i}é`, { i, s: 'v'.repeat(i % 50) });
  for (let i = 0; i < 2000; i++) {
    t.deepEqual((i % 2 === 0 ? view : map).get(`k${i}é`), { i, s: 'v'.repeat(i % 50) });
  }
  t.is(view.size, 2000);
  view.clear();
  t.is(map.size, 0);
  t.is(map.get('k0é'), undefined);
});

const LIB_URL = new URL('../../lib/index.js', import.meta.url).href;

/**
 * Worker (CommonJS eval code, importing the compiled lib by absolute URL).
 * workerData.handle set: attach it, check the main thread's entries, add its
 * own (with resizes), report. Otherwise: create a string -> string map, fill
 * it, post its handle, and on 'check' verify the main thread's additions.
 */
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const valueOf = (i) => 'v' + i + '|' + 'é漢😀'.repeat(i % 7) + (i % 5 === 0 ? '\\ud800' : '');
import(${JSON.stringify(LIB_URL)}).then(({ SharedFlatMap }) => {
  if (workerData.handle) {
    const map = SharedFlatMap.attach(workerData.handle);
    let wrong = 0;
    for (let i = 0; i < workerData.count; i++) if (map.get('main-' + i) !== valueOf(i)) wrong++;
    for (let i = 0; i < workerData.count; i++) map.set('worker-' + i, valueOf(i + 1));
    map.delete('main-0');
    parentPort.postMessage({ wrong, size: map.size });
    return;
  }
  const map = new SharedFlatMap({ keys: 'string', values: 'string', capacity: 1 });
  for (let i = 0; i < workerData.count; i++) map.set('worker-' + i, valueOf(i));
  parentPort.postMessage({ handle: map.handle });
  parentPort.once('message', () => {
    let wrong = 0;
    for (let i = 0; i < workerData.count; i++) if (map.get('main-' + i) !== valueOf(i + 2)) wrong++;
    parentPort.postMessage({ wrong, size: map.size, deleted: map.get('worker-1') === undefined });
  });
}, (error) => { throw error; });
`;

const valueOf = (i: number): string => 'v' + i + '|' + 'é漢😀'.repeat(i % 7) + (i % 5 === 0 ? '\ud800' : '');
const CROSS_COUNT = 3000;

interface CrossMessage {
  handle?: SharedFlatMapHandle;
  wrong?: number;
  size?: number;
  deleted?: boolean;
}

function startWorker(workerData: unknown): { worker: Worker; next: () => Promise<CrossMessage>; exited: Promise<number> } {
  const worker = new Worker(WORKER_CODE, { eval: true, workerData });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  const inbox: CrossMessage[] = [];
  const waiters: ((m: CrossMessage) => void)[] = [];
  let failure: unknown;
  const failWaiters: ((e: unknown) => void)[] = [];
  worker.on('message', (m: CrossMessage) => {
    const waiter = waiters.shift();
    failWaiters.shift();
    if (waiter) waiter(m);
    else inbox.push(m);
  });
  worker.on('error', (error) => {
    failure = error;
    for (const reject of failWaiters.splice(0)) reject(error);
  });
  const next = (): Promise<CrossMessage> =>
    new Promise((resolve, reject) => {
      if (failure !== undefined) return reject(failure);
      const m = inbox.shift();
      if (m) return resolve(m);
      waiters.push(resolve);
      failWaiters.push(reject);
    });
  return { worker, next, exited };
}

test('a Worker attaches a string map created here: it reads our entries and we read its writes', async (t) => {
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 1 });
  for (let i = 0; i < CROSS_COUNT; i++) map.set(`main-${i}`, valueOf(i));
  const { next, exited } = startWorker({ handle: map.handle, count: CROSS_COUNT });
  const reply = await next();
  t.is(await exited, 0);
  t.is(reply.wrong, 0, 'the worker read wrong values');
  t.is(reply.size, 2 * CROSS_COUNT - 1);
  t.is(map.size, 2 * CROSS_COUNT - 1);
  t.is(map.get('main-0'), undefined, 'the worker deleted main-0');
  let wrong = 0;
  for (let i = 0; i < CROSS_COUNT; i++) if (map.get(`worker-${i}`) !== valueOf(i + 1)) wrong++;
  t.is(wrong, 0, 'we read wrong values written by the worker');
});

test('this thread attaches a string map created in a Worker: reads its entries, the Worker reads ours', async (t) => {
  const { worker, next } = startWorker({ count: CROSS_COUNT });
  const { handle } = await next();
  const map = SharedFlatMap.attach<string, string>(handle as SharedFlatMapHandle);
  t.is(map.keyKind, 'string');
  t.is(map.valueKind, 'string');
  let wrong = 0;
  for (let i = 0; i < CROSS_COUNT; i++) if (map.get(`worker-${i}`) !== valueOf(i)) wrong++;
  t.is(wrong, 0);
  for (let i = 0; i < CROSS_COUNT; i++) map.set(`main-${i}`, valueOf(i + 2));
  map.delete('worker-1');
  worker.postMessage('check');
  const reply = await next();
  await worker.terminate();
  t.is(reply.wrong, 0, 'the worker read wrong values');
  t.is(reply.size, 2 * CROSS_COUNT - 1);
  t.true(reply.deleted);
});

// ---------------------------------------------------------------- bad input

/** Assert `fn` throws `code` with the class, and the map is unchanged and still writable. */
function rejects(
  t: ExecutionContext,
  map: AnyMap,
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

function populatedStringMap<V>(values: ValueKindOption, sample: V[]): SharedFlatMap<string, V> {
  const map = new SharedFlatMap<string, V>({ keys: 'string', values, capacity: 4 });
  for (let i = 0; i < 60; i++) map.set(`key-${i}-é`, sample[i % sample.length] as V);
  for (let i = 0; i < 60; i += 4) map.delete(`key-${i}-é`);
  return map;
}

test('bad string keys: non-strings and oversized keys get ERR_FLATSHARE_KEY; the map is unchanged', (t) => {
  const map = populatedStringMap<string>('string', SAMPLES.string as string[]);
  const m = map as AnyMap;
  const badKeys: unknown[] = [undefined, null, 1, 0, NaN, 1n, Symbol('k'), {}, { toString: () => 'key-1-é' }, ['key-1-é'], new String('key-1-é'), true];
  for (const key of badKeys) {
    const label = `key ${typeof key}`;
    rejects(t, m, `set ${label}`, () => m.set(key, 'v'), ErrorCode.KEY, FlatshareTypeError);
    rejects(t, m, `get ${label}`, () => m.get(key), ErrorCode.KEY, FlatshareTypeError);
    rejects(t, m, `has ${label}`, () => m.has(key), ErrorCode.KEY, FlatshareTypeError);
    rejects(t, m, `delete ${label}`, () => m.delete(key), ErrorCode.KEY, FlatshareTypeError);
    rejects(t, m, `getOrSet ${label}`, () => m.getOrSet(key, 'v'), ErrorCode.KEY, FlatshareTypeError);
    rejects(t, m, `compareAndSet ${label}`, () => m.compareAndSet(key, undefined, 'v'), ErrorCode.KEY, FlatshareTypeError);
  }
  // Oversized: one byte over MAX_KEY_BYTES in the one-byte form, one unit over in the two-byte form.
  for (const key of ['x'.repeat(MAX_KEY_BYTES + 1), 'ж'.repeat(MAX_KEY_BYTES / 2 + 1)]) {
    rejects(t, m, `set oversized key`, () => m.set(key, 'v'), ErrorCode.KEY, FlatshareRangeError);
    rejects(t, m, `getOrSet oversized key`, () => m.getOrSet(key, 'v'), ErrorCode.KEY, FlatshareRangeError);
    rejects(t, m, `compareAndSet oversized key`, () => m.compareAndSet(key, undefined, 'v'), ErrorCode.KEY, FlatshareRangeError);
    // Reads and deletes of an oversized key: simply absent.
    t.is(m.get(key), undefined);
    t.false(m.delete(key));
  }
  // At the limit exactly: accepted, in both forms.
  for (const key of ['x'.repeat(MAX_KEY_BYTES), 'ж'.repeat(MAX_KEY_BYTES / 2)]) {
    map.set(key, 'at the limit');
    t.is(map.get(key), 'at the limit');
    t.true(map.delete(key));
  }
});

test('bad string values: non-strings and a value over 16 MiB get ERR_FLATSHARE_VALUE; the map is unchanged', (t) => {
  const map = populatedStringMap<string>('string', SAMPLES.string as string[]);
  const m = map as AnyMap;
  for (const value of [undefined, null, 1, 1n, Symbol('v'), {}, ['x'], new String('x'), new Uint8Array(1)]) {
    const label = `value ${typeof value}`;
    rejects(t, m, `set new key, ${label}`, () => m.set('new', value), ErrorCode.VALUE, FlatshareTypeError);
    rejects(t, m, `set existing key, ${label}`, () => m.set('key-1-é', value), ErrorCode.VALUE, FlatshareTypeError);
    rejects(t, m, `getOrSet ${label}`, () => m.getOrSet('new', value), ErrorCode.VALUE, FlatshareTypeError);
    rejects(t, m, `compareAndSet next ${label}`, () => m.compareAndSet('key-1-é', 'x', value), ErrorCode.VALUE, FlatshareTypeError);
    if (value !== undefined) {
      rejects(t, m, `compareAndSet expected ${label}`, () => m.compareAndSet('key-1-é', value, 'x'), ErrorCode.VALUE, FlatshareTypeError);
    }
  }
  const huge = 'x'.repeat(MAX_VALUE_BYTES + 1);
  const hugeWide = 'ж'.repeat(MAX_VALUE_BYTES / 2 + 1);
  for (const value of [huge, hugeWide]) {
    rejects(t, m, 'set oversized value', () => m.set('new', value), ErrorCode.VALUE, FlatshareRangeError);
    rejects(t, m, 'overwrite with oversized value', () => m.set('key-1-é', value), ErrorCode.VALUE, FlatshareRangeError);
    rejects(t, m, 'compareAndSet oversized value', () => m.compareAndSet('key-1-é', SAMPLES.string[1], value), ErrorCode.VALUE, FlatshareRangeError);
  }
});

test('bad bytes values: anything but a Uint8Array gets ERR_FLATSHARE_VALUE; the map is unchanged', (t) => {
  const map = populatedStringMap<Uint8Array>('bytes', SAMPLES.bytes as Uint8Array[]);
  const m = map as AnyMap;
  const bad: unknown[] = [undefined, null, 'bytes', 3, [1, 2, 3], new ArrayBuffer(3), new Uint16Array(2), new Int8Array(2), new DataView(new ArrayBuffer(2)), {}];
  for (const value of bad) {
    const label = `value ${Object.prototype.toString.call(value)}`;
    rejects(t, m, `set ${label}`, () => m.set('new', value), ErrorCode.VALUE, FlatshareTypeError);
    rejects(t, m, `overwrite ${label}`, () => m.set('key-1-é', value), ErrorCode.VALUE, FlatshareTypeError);
    rejects(t, m, `getOrSet ${label}`, () => m.getOrSet('new', value), ErrorCode.VALUE, FlatshareTypeError);
  }
});

test('bad json values: undefined, functions, symbols (also nested), BigInt, NaN / Infinity and cycles get ERR_FLATSHARE_VALUE', (t) => {
  const map = populatedStringMap<unknown>('json', SAMPLES.json);
  const m = map as AnyMap;
  const cycle: Record<string, unknown> = { a: 1 };
  cycle.self = cycle;
  const deepCycle: unknown[] = [{ inner: [] as unknown[] }];
  ((deepCycle[0] as { inner: unknown[] }).inner).push(deepCycle);
  const typeErrors: [string, unknown][] = [
    ['undefined', undefined],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['nested undefined', { a: { b: undefined } }],
    ['undefined in an array', [1, undefined]],
    ['nested function', { f: [function named() {}] }],
    ['nested symbol', { deep: { s: Symbol('s') } }],
    ['BigInt', 10n],
    ['nested BigInt', { n: [1n] }],
    ['toJSON returning undefined', { toJSON: () => undefined }],
    ['a cycle', cycle],
    ['a cycle through an array', deepCycle],
  ];
  for (const [label, value] of typeErrors) {
    rejects(t, m, `set ${label}`, () => m.set('new', value), ErrorCode.VALUE, FlatshareTypeError);
    rejects(t, m, `overwrite ${label}`, () => m.set('key-1-é', value), ErrorCode.VALUE, FlatshareTypeError);
    rejects(t, m, `getOrSet ${label}`, () => m.getOrSet('new', value), ErrorCode.VALUE, FlatshareTypeError);
  }
  for (const [label, value] of [
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['nested -Infinity', { x: [-Infinity] }],
    ['nested NaN', { a: { b: NaN } }],
  ] as [string, unknown][]) {
    rejects(t, m, `set ${label}`, () => m.set('new', value), ErrorCode.VALUE, FlatshareRangeError);
    rejects(t, m, `overwrite ${label}`, () => m.set('key-1-é', value), ErrorCode.VALUE, FlatshareRangeError);
  }
  // A JSON text over 16 MiB.
  rejects(t, m, 'oversized json', () => m.set('new', { s: 'x'.repeat(MAX_VALUE_BYTES) }), ErrorCode.VALUE, FlatshareRangeError);
  // null, and a symbol-keyed property (JSON ignores symbol keys, and so does the round-trip), are fine.
  map.set('ok', { a: null, [Symbol('hidden')]: 1 });
  t.deepEqual(map.get('ok'), { a: null });
});

test('int32 keys with arena values: bad keys get ERR_FLATSHARE_KEY, bad values ERR_FLATSHARE_VALUE, map unchanged', (t) => {
  const map = new SharedFlatMap<number, string>({ keys: 'int32', values: 'string', capacity: 4 });
  for (let k = 0; k < 50; k++) map.set(k, `v${k}`);
  const m = map as AnyMap;
  for (const key of ['1', 1.5, 2 ** 31, NaN, undefined, {}]) {
    rejects(t, m, `set key ${String(key)}`, () => m.set(key, 'v'), ErrorCode.KEY, key === 2 ** 31 || key === 1.5 || Number.isNaN(key) ? FlatshareRangeError : FlatshareTypeError);
  }
  rejects(t, m, 'set value 5', () => m.set(1, 5), ErrorCode.VALUE, FlatshareTypeError);
  rejects(t, m, 'oversized value', () => m.set(1, 'x'.repeat(MAX_VALUE_BYTES + 1)), ErrorCode.VALUE, FlatshareRangeError);
});

// ---------------------------------------------------------------- FULL

/** 256 KiB: the fixed part, a few table regions and some hundred KiB of arena. */
const FULL_MAX_BYTES = 256 * 1024;
const VALUE_LENGTH = 300;

function fillStringsUntilFull(t: ExecutionContext): { map: SharedFlatMap<string, string>; model: Map<string, string>; next: number } {
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 16, maxBytes: FULL_MAX_BYTES });
  const model = new Map<string, string>();
  for (let i = 0; i < 100_000; i++) {
    const key = `key-${String(i).padStart(6, '0')}`;
    const value = `${i}:`.padEnd(VALUE_LENGTH, 'v');
    try {
      map.set(key, value);
    } catch (error) {
      t.true(error instanceof FlatshareFullError, `set threw ${String(error)}`);
      t.is((error as FlatshareFullError).code, ErrorCode.FULL);
      return { map, model, next: i };
    }
    model.set(key, value);
  }
  t.fail('the map never got full');
  throw new Error('unreachable');
}


test('FULL with string values: acknowledged entries stay readable; failed writes change nothing', (t) => {
  const { map, model, next } = fillStringsUntilFull(t);
  t.log(`full after ${model.size} entries of ${VALUE_LENGTH}-char values; buffer ${map.handle.memory.buffer.byteLength} bytes`);
  t.true(model.size > 100);
  assertWithinMaxBytes(t, map as AnyMap, FULL_MAX_BYTES);
  assertMatchesModel(t, map, model, 'after FULL');
  const before = snapshot(map as AnyMap);
  const newKey = `key-${next}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    t.is(map.trySet(newKey, 'x'.repeat(VALUE_LENGTH)), 'full');
    t.throws(() => map.getOrSet(newKey, 'x'.repeat(VALUE_LENGTH)), { code: ErrorCode.FULL });
    t.throws(() => map.compareAndSet(newKey, undefined, 'x'.repeat(VALUE_LENGTH)), { code: ErrorCode.FULL });
    // Overwriting with a value of a bigger class needs a new block: FULL, old value kept.
    t.throws(() => map.set('key-000001', 'y'.repeat(20 * VALUE_LENGTH)), { code: ErrorCode.FULL });
    t.throws(() => map.compareAndSet('key-000001', model.get('key-000001') as string, 'y'.repeat(20 * VALUE_LENGTH)), {
      code: ErrorCode.FULL,
    });
  }
  t.deepEqual(snapshot(map as AnyMap), before);
  // An overwrite allocates its new block before it frees the old one, so at the
  // limit it needs one free block of the class: a delete provides it, and then
  // same-size overwrites keep reusing the block each one frees.
  t.true(map.delete('key-000000'));
  model.delete('key-000000');
  for (let i = 1; i < 50; i++) {
    const key = `key-${String(i).padStart(6, '0')}`;
    const value = `again ${i}:`.padEnd(VALUE_LENGTH, 'w');
    t.is(map.trySet(key, value), 'ok', `overwrite ${i}`);
    model.set(key, value);
  }
  assertMatchesModel(t, map, model, 'after same-size overwrites');
});

/** Delete the first 1 / `share` of `model`'s keys (a quarter by default); returns them. */
function deleteQuarter(t: ExecutionContext, map: SharedFlatMap<string, string>, model: Map<string, string>, share = 4): string[] {
  const victims = [...model.keys()].slice(0, Math.floor(model.size / share));
  for (const key of victims) {
    t.true(map.delete(key));
    model.delete(key);
  }
  return victims;
}

/** Insert `count` new keys of the same length as key-NNNNNN, values of the same size; returns how many fit. */
function insertNew(map: SharedFlatMap<string, string>, model: Map<string, string>, count: number): number {
  for (let i = 0; i < count; i++) {
    const key = `new-${String(i).padStart(6, '0')}`;
    const value = `new ${i}:`.padEnd(VALUE_LENGTH, 'n');
    if (map.trySet(key, value) !== 'ok') return i;
    model.set(key, value);
  }
  return count;
}

test('FULL with string values: after deletes, the deleted keys fit again at the same size; clear frees everything', (t) => {
  const { map, model } = fillStringsUntilFull(t);
  const full = model.size;
  const victims = deleteQuarter(t, map, model);
  // Their values' blocks were freed by the deletes; their keys are revived from the tombstones.
  for (const key of victims) {
    const value = `back:${key}`.padEnd(VALUE_LENGTH, 'b');
    if (map.trySet(key, value) !== 'ok') {
      t.fail(`re-inserting deleted key ${key} at the limit returned full`);
      break;
    }
    model.set(key, value);
  }
  assertMatchesModel(t, map, model, 'after delete + re-insert');
  assertWithinMaxBytes(t, map as AnyMap, FULL_MAX_BYTES);
  // clear frees every key and value block onto the free lists of their classes.
  const keyClass = classFor(blockIntsFor('key-000000'.length));
  const valueClass = classFor(blockIntsFor(VALUE_LENGTH));
  const host = arenaHostOf(map as AnyMap);
  const freeBefore = [freeListLength(host, keyClass), freeListLength(host, valueClass)];
  map.clear();
  const freeAfter = [freeListLength(host, keyClass), freeListLength(host, valueClass)];
  t.log(`free key / value blocks before clear ${freeBefore.join(' / ')}, after ${freeAfter.join(' / ')}`);
  t.true((freeAfter[0] as number) - (freeBefore[0] as number) >= full, 'every key block was freed');
  t.true((freeAfter[1] as number) - (freeBefore[1] as number) >= full, 'every value block was freed');
  // Refilling takes blocks from the free lists only: ALLOC_TOP does not move for them.
  const topBefore = Atomics.load(SharedFlatMap.unsafeExposeInternals(map as AnyMap).words, H_ALLOC_TOP);
  let refilled = 0;
  for (let i = 0; i < 100_000; i++) {
    if (map.trySet(`key-${String(i).padStart(6, '0')}`, `${i}:`.padEnd(VALUE_LENGTH, 'v')) !== 'ok') break;
    refilled++;
  }
  const topAfter = Atomics.load(SharedFlatMap.unsafeExposeInternals(map as AnyMap).words, H_ALLOC_TOP);
  // Not all `full` entries fit again: table regions retired by clear() are split
  // first-fit for the small tables of the refill, and the big table no longer fits.
  t.log(`${full} entries at the limit; after clear, ${refilled} fit again; ALLOC_TOP moved by ${topAfter - topBefore} words`);
  t.true(refilled >= full / 2, `only ${refilled} entries fit after clear; ${full} did before`);
  t.true(topAfter - topBefore < 2 * blockSizeFor(VALUE_LENGTH), 'the refill bump-allocated blocks although the free lists had them');
});

/** An ArenaHost over a map's buffer, for freeListLength. */
function arenaHostOf(map: AnyMap): ArenaHost {
  const memory = SharedFlatMap.unsafeExposeInternals(map).memory;
  let words = SharedFlatMap.unsafeExposeInternals(map).words;
  return {
    memory,
    words: () => words,
    refreshWords: () => (words = new Int32Array(memory.buffer, 0, memory.byteLength / 4)),
  };
}

test('FULL with string values: after deletes, new keys of the same size fit again when a rehash fits (tombstones give back their key blocks)', (t) => {
  // Regression: the key block of a deleted entry stays with its tombstone until
  // a migration drops it, and an insert that hit FULL on its key block used to
  // fail without migrating, so the map stayed full for new keys for good. Here
  // a region retired by clear() leaves room for a same-size table, so the
  // rehash that frees the tombstones' key blocks can run.
  const maxBytes = 512 * 1024;
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 16, maxBytes });
  for (let i = 0; i < 5000; i++) map.set(`t${i}`, '');
  map.clear();
  const model = new Map<string, string>();
  for (let i = 0; i < 100_000; i++) {
    const key = `key-${String(i).padStart(6, '0')}`;
    const value = `${i}:`.padEnd(VALUE_LENGTH, 'v');
    if (map.trySet(key, value) !== 'ok') break;
    model.set(key, value);
  }
  const genBefore = SharedFlatMap.unsafeExposeInternals(map as AnyMap).gen;
  const victims = deleteQuarter(t, map, model);
  const inserted = insertNew(map, model, victims.length);
  t.log(`${model.size} entries; deleted ${victims.length}, then ${inserted} new keys of the same size fit`);
  t.is(inserted, victims.length);
  t.true(SharedFlatMap.unsafeExposeInternals(map as AnyMap).gen > genBefore, 'a rehash dropped the tombstones');
  assertWithinMaxBytes(t, map as AnyMap, maxBytes);
  assertMatchesModel(t, map, model, 'after delete + insert of new keys');
});

// When the arena has used all the room, a rehash cannot get a table region either
// (a migration needs the whole new table while the old one stays readable). The
// new keys need blocks of a key's size, and only the tombstones hold such blocks:
// the insert frees them in place (reclaimTombstoneKeys) and retries.
// No room for a table: at the limit the map holds 625 entries in 320 buckets (the
// buffer is used up to its last words), and the largest retired region is the
// 160-bucket table before it, whose insert budget (512) is below the entries left
// after deleting an eighth (547, plus fittingBuckets' headroom). After a quarter
// (469 left) a rehash into that region would fit, and would free the key blocks
// instead (the test above covers that path).
test('at the arena limit with no room for a table, new keys fit after deletes: the tombstones give back their key blocks in place', (t) => {
  const { map, model } = fillStringsUntilFull(t);
  const genBefore = SharedFlatMap.unsafeExposeInternals(map as AnyMap).gen;
  const victims = deleteQuarter(t, map, model, 8);
  t.is(insertNew(map, model, victims.length), victims.length);
  t.is(SharedFlatMap.unsafeExposeInternals(map as AnyMap).gen, genBefore, 'no rehash: the blocks were freed in place');
  assertWithinMaxBytes(t, map as AnyMap, FULL_MAX_BYTES);
  assertMatchesModel(t, map, model, 'after delete + insert of new keys at the limit');
  // The deleted keys are absent (their tombstones hold no key now), and come back as new entries.
  for (const key of victims) t.is(map.get(key), undefined, key);
  for (const key of victims.slice(0, 5)) {
    t.false(map.has(key));
    t.false(map.delete(key));
  }
});

/** How many times `Atomics.load` runs during `body` (a scan of the table loads every bucket's SEQ word). */
function atomicsLoadsDuring(body: () => void): number {
  let loads = 0;
  spyAtomics('load', () => loads++, body);
  return loads;
}

test('reclaimTombstoneKeys does not scan the table again while nothing was deleted since a scan that freed nothing', (t) => {
  // White-box: the in-place reclaim (the string-key write path calls it when an insert's key block
  // does not fit and a rehash has no room) on its own, with a count of the loads it makes.
  // string -> string: 4 lanes a bucket; a scan loads every bucket's SEQ word.
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 1000 });
  for (let i = 0; i < 100; i++) map.set(`key-${i}`, `v${i}`);
  for (let i = 0; i < 10; i++) t.true(map.delete(`key-${i}`));
  const inner = map as unknown as { enterGeneration(): number; reclaimTombstoneKeys(epoch: number): number };
  const buckets = SharedFlatMap.unsafeExposeInternals(map as AnyMap).table.buckets;
  const reclaim = (): { freed: number; loads: number } => {
    let freed = 0;
    const loads = atomicsLoadsDuring(() => {
      freed = inner.reclaimTombstoneKeys(inner.enterGeneration());
    });
    return { freed, loads };
  };
  const first = reclaim();
  t.is(first.freed, 10, 'the 10 tombstones\' key blocks');
  t.true(first.loads >= buckets, 'a scan of every bucket');
  const second = reclaim();
  t.is(second.freed, 0);
  t.true(second.loads >= buckets, 'the first scan freed blocks, so the next one scans again');
  const third = reclaim();
  t.is(third.freed, 0);
  t.true(third.loads < buckets, `${third.loads} loads: no scan, nothing was deleted since the last one that freed nothing`);
  t.true(map.delete('key-50'));
  const fourth = reclaim();
  t.is(fourth.freed, 1, 'a delete since: the scan runs and frees its key block');
  t.true(fourth.loads >= buckets);
  for (let i = 0; i < 100; i++) t.is(map.get(`key-${i}`), i < 10 || i === 50 ? undefined : `v${i}`);
  map.set('key-3', 'again');
  t.is(map.get('key-3'), 'again');
  t.is(map.size, 90);
});

test('reclaimTombstoneKeys scans again after a scan that skipped a bucket a writer held: its tombstones\' blocks are freed once the writer lets go', (t) => {
  // White-box, as above. A writer holding a bucket while the scan passes (here: one with a
  // tombstone, as a delete in progress releases one with its key block) may leave blocks to
  // free that SIZE and REMAINING do not show, so that scan must not stop the next one.
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 1000 });
  for (let i = 0; i < 100; i++) map.set(`key-${i}`, `v${i}`);
  for (let i = 0; i < 10; i++) t.true(map.delete(`key-${i}`));
  const { words, table, g } = SharedFlatMap.unsafeExposeInternals(map as AnyMap);
  // The TOMBSTONE lanes of a bucket whose KEY_REF column still holds a key block.
  const tombstonesWithBlock = (at: number): number => {
    const tombs = tombstoneLanes(Atomics.load(words, at + B_META), g.lanes);
    let n = 0;
    for (let lane = 0; lane < g.lanes; lane++) {
      if (((tombs >>> lane) & 1) !== 0 && Atomics.load(words, at + laneWordOffset(g, C_KEY_REF, lane)) !== NULL_BLOCK) n++;
    }
    return n;
  };
  let held = -1;
  let total = 0;
  for (let b = 0; b < table.buckets; b++) {
    const n = tombstonesWithBlock(bucketAt(table.first, b));
    total += n;
    if (n > 0 && held < 0) held = bucketAt(table.first, b);
  }
  t.is(total, 10, 'every tombstone still has its key block');
  t.true(held >= 0, 'a bucket with a tombstone with its key block');
  const inHeld = tombstonesWithBlock(held);
  const seq = Atomics.load(words, held);
  Atomics.store(words, held, seq | LOCKED); // a writer holds it (the scan only looks at the bit)
  const inner = map as unknown as { enterGeneration(): number; reclaimTombstoneKeys(epoch: number): number };
  const reclaim = (): number => inner.reclaimTombstoneKeys(inner.enterGeneration());
  t.is(reclaim(), 10 - inHeld, `the other ${10 - inHeld} tombstones' blocks; the ${inHeld} in the held bucket are skipped`);
  t.is(reclaim(), 0, 'nothing else to free while it is held');
  t.is(tombstonesWithBlock(held), inHeld, 'the held bucket was not touched');
  Atomics.store(words, held, seq); // the writer lets go, the bucket keeps its tombstones with their blocks
  t.is(reclaim(), inHeld, 'the scan runs again and frees the blocks the writer held');
  t.is(tombstonesWithBlock(held), 0);
  t.is(reclaim(), 0);
  for (let i = 0; i < 100; i++) t.is(map.get(`key-${i}`), i < 10 ? undefined : `v${i}`);
  t.is(map.size, 90);
});

test('a write through an instance whose views predate a grow finds a key whose block lies past them', (t) => {
  // A table far from full: the key blocks of the inserts, not a resize, grow the memory,
  // so b sees no new generation (which would refresh its views) before its write.
  const a = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', capacity: 20_000 });
  const b = SharedFlatMap.attach<string, number>(a.handle); // its views cover the memory as it is now
  const startBytes = a.byteLength;
  let i = 0;
  while (a.byteLength === startBytes) a.set(`filler-${i++}-`.padEnd(30, 'x'), i);
  t.is(SharedFlatMap.unsafeExposeInternals(a as SharedFlatMap<unknown, unknown>).gen, 0, 'no resize');
  const key = 'after-the-grow';
  a.set(key, 1); // its key block lies past b's views
  // compareAndSet runs the JS write path (lockLaneStr: findLane with the string matcher), which must refresh its views to compare the key.
  t.true(b.compareAndSet(key, 1, 2));
  t.is(a.get(key), 2);
  t.is(b.getOrSet(key, 3), 2);
  t.true(b.delete(key));
  t.is(a.get(key), undefined);
  t.is(b.size, i);
});
