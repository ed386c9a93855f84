/**
 * The Map-like surface of SharedFlatMap, for int32 and float64 values, and
 * attaching in the same thread and from a map created in a Worker.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { Worker, threadId } from 'node:worker_threads';
import { MAX_WRITERS, W_OWNER } from '../../lib/layout.js';
import { writerRecordAt } from '../../lib/writers.js';
import { ErrorCode, FlatshareRangeError, SharedFlatMap, type ValueKindOption } from '../../lib/index.js';

type Kind = Extract<ValueKindOption, 'int32' | 'float64'>;
const KINDS: readonly Kind[] = ['int32', 'float64'];
const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

function newMap(values: Kind, capacity?: number): SharedFlatMap<number, number> {
  return new SharedFlatMap<number, number>({ keys: 'int32', values, ...(capacity === undefined ? {} : { capacity }) });
}

/** Entries sorted by key, for order-independent comparison. */
function sorted(entries: Iterable<[number, number]>): [number, number][] {
  return [...entries].sort((a, b) => a[0] - b[0]);
}

function sameAsMap(t: ExecutionContext, map: SharedFlatMap<number, number>, model: Map<number, number>, label = ''): void {
  t.is(map.size, model.size, `${label} size`);
  t.deepEqual(sorted(map.entries()), sorted(model.entries()), `${label} entries`);
}

for (const kind of KINDS) {
  test(`${kind}: set returns the map and chains; get/has/delete/size behave like Map`, (t) => {
    const map = newMap(kind);
    t.is(map.set(1, 10), map);
    map.set(2, 20).set(3, 30).set(-4, -40);
    t.is(map.size, 4);
    t.is(map.get(1), 10);
    t.is(map.get(-4), -40);
    t.is(map.get(5), undefined);
    t.true(map.has(2));
    t.false(map.has(5));
    map.set(2, 21); // overwrite: size unchanged
    t.is(map.get(2), 21);
    t.is(map.size, 4);
    t.true(map.delete(2));
    t.false(map.delete(2), 'second delete of the same key');
    t.false(map.delete(99), 'delete of a key never present');
    t.false(map.has(2));
    t.is(map.get(2), undefined);
    t.is(map.size, 3);
    map.set(2, 22); // revive the tombstone
    t.is(map.get(2), 22);
    t.is(map.size, 4);
    t.is(map.set(0, 0).get(0), 0, 'value 0 is present, not undefined');
    t.true(map.has(0));
    map.set(INT32_MIN, 1).set(INT32_MAX, 2);
    t.is(map.get(INT32_MIN), 1);
    t.is(map.get(INT32_MAX), 2);
    map.set(-0, 5);
    t.is(map.get(0), 5, '-0 and +0 are the same key, as in Map');
    t.is(map.size, 7);
  });

  test(`${kind}: clear empties the map and it stays usable`, (t) => {
    const map = newMap(kind, 4);
    for (let k = 0; k < 100; k++) map.set(k, k); // forces resizes
    map.clear();
    t.is(map.size, 0);
    t.is(map.get(5), undefined);
    t.false(map.has(0));
    t.deepEqual([...map], []);
    map.clear(); // clearing an empty map is fine
    t.is(map.size, 0);
    map.set(5, 6);
    t.is(map.get(5), 6);
    t.is(map.size, 1);
  });

  test(`${kind}: entries/keys/values/forEach/spread yield every entry once, like Map`, (t) => {
    const map = newMap(kind, 8);
    const model = new Map<number, number>();
    for (let k = -50; k < 150; k += 3) {
      map.set(k, k * 2);
      model.set(k, k * 2);
    }
    for (let k = -50; k < 150; k += 9) {
      map.delete(k);
      model.delete(k);
    }
    sameAsMap(t, map, model);
    t.deepEqual([...map.keys()].sort((a, b) => a - b), [...model.keys()].sort((a, b) => a - b));
    t.deepEqual([...map.values()].sort((a, b) => a - b), [...model.values()].sort((a, b) => a - b));
    t.deepEqual(sorted([...map]), sorted(model));
    t.deepEqual(sorted(map[Symbol.iterator]()), sorted(model));
    t.deepEqual(sorted(Array.from(map)), sorted(model));
    const thisArg = { seen: [] as [number, number][] };
    let mapArg: unknown;
    map.forEach(function (this: typeof thisArg, value, key, m) {
      this.seen.push([key, value]);
      mapArg = m;
    }, thisArg);
    t.deepEqual(sorted(thisArg.seen), sorted(model));
    t.is(mapArg, map);
    // Iterators are independent and re-iterable.
    const it = map.entries();
    t.is(it[Symbol.iterator](), it);
    t.is([...map.keys()].length, model.size);
    t.is([...map.keys()].length, model.size);
  });

  test(`${kind}: getOrSet stores only when absent and returns the value now stored`, (t) => {
    const map = newMap(kind);
    t.is(map.getOrSet(1, 10), 10);
    t.is(map.get(1), 10);
    t.is(map.getOrSet(1, 11), 10, 'present: returns the existing value');
    t.is(map.get(1), 10);
    t.is(map.size, 1);
    map.delete(1);
    t.is(map.getOrSet(1, 12), 12, 'after delete (tombstone)');
    t.is(map.get(1), 12);
    map.set(2, 0);
    t.is(map.getOrSet(2, 5), 0, 'a stored 0 is present');
  });

  test(`${kind}: add treats absent as 0 and returns the new value`, (t) => {
    const map = newMap(kind);
    t.is(map.add(7, 3), 3);
    t.is(map.get(7), 3);
    t.is(map.add(7, 4), 7);
    t.is(map.add(7, -10), -3);
    t.is(map.get(7), -3);
    t.is(map.size, 1);
    map.delete(7);
    t.is(map.add(7, 1), 1, 'a deleted key counts as 0 again');
    t.is(map.add(8, 0), 0);
    t.true(map.has(8), 'add(k, 0) on an absent key stores 0');
  });

  test(`${kind}: compareAndSet: undefined expected means "only if absent"`, (t) => {
    const map = newMap(kind);
    t.true(map.compareAndSet(1, undefined, 10));
    t.is(map.get(1), 10);
    t.false(map.compareAndSet(1, undefined, 11), 'present: no insert');
    t.is(map.get(1), 10);
    t.true(map.compareAndSet(1, 10, 12));
    t.is(map.get(1), 12);
    t.false(map.compareAndSet(1, 10, 13), 'stale expected value');
    t.is(map.get(1), 12);
    t.false(map.compareAndSet(2, 5, 6), 'absent key with a value expected');
    t.false(map.has(2));
    t.is(map.size, 1);
    map.delete(1);
    t.false(map.compareAndSet(1, 12, 14), 'a deleted key does not match its old value');
    t.true(map.compareAndSet(1, undefined, 15), 'a deleted key is absent');
    t.is(map.get(1), 15);
    t.is(map.size, 1);
  });

  test(`${kind}: trySet returns 'ok' and stores`, (t) => {
    const map = newMap(kind);
    t.is(map.trySet(3, 4), 'ok');
    t.is(map.get(3), 4);
  });

  test(`${kind}: Symbol.toStringTag`, (t) => {
    const map = newMap(kind);
    t.is(Object.prototype.toString.call(map), '[object SharedFlatMap]');
    t.is(map[Symbol.toStringTag], 'SharedFlatMap');
    t.is(map.keyKind, 'int32');
    t.is(map.valueKind, kind);
  });

  test(`${kind}: attach in the same thread is a working view of the same data, across resizes`, (t) => {
    const map = newMap(kind, 4);
    map.set(1, 100);
    const other = SharedFlatMap.attach<number, number>(map.handle);
    t.is(other.get(1), 100);
    other.set(2, 200);
    t.is(map.get(2), 200);
    // Resize through one view; the other must follow (new table, grown buffer).
    for (let k = 10; k < 5_000; k++) other.set(k, k);
    t.is(map.size, 4_992);
    for (let k = 10; k < 5_000; k += 97) t.is(map.get(k), k);
    map.delete(10);
    t.false(other.has(10));
    other.clear();
    t.is(map.size, 0);
    t.is(map.get(1), undefined);
    t.is(other.handle.memory.buffer, map.handle.memory.buffer);
    t.is(other.valueKind, kind);
    t.is(other.hasher.id, map.hasher.id);
  });
}

test('int32: add overflow throws RangeError ERR_FLATSHARE_VALUE and leaves the value unchanged', (t) => {
  const map = newMap('int32');
  map.set(1, INT32_MAX).set(2, INT32_MIN);
  t.throws(() => map.add(1, 1), { instanceOf: RangeError, code: ErrorCode.VALUE });
  t.throws(() => map.add(1, INT32_MAX), { instanceOf: FlatshareRangeError, code: 'ERR_FLATSHARE_VALUE' });
  t.throws(() => map.add(2, -1), { instanceOf: RangeError, code: ErrorCode.VALUE });
  t.is(map.get(1), INT32_MAX);
  t.is(map.get(2), INT32_MIN);
  t.is(map.size, 2);
  // The slot was released: later writes to it work and do not hang.
  t.is(map.add(1, -1), INT32_MAX - 1);
  t.is(map.add(2, INT32_MAX), -1);
  map.set(1, 0);
  t.is(map.get(1), 0);
});

test('int32: add with a non-int32 delta throws ERR_FLATSHARE_VALUE and stores nothing', (t) => {
  const map = newMap('int32');
  t.throws(() => map.add(1, 0.5), { code: ErrorCode.VALUE });
  t.throws(() => map.add(1, 2 ** 31), { code: ErrorCode.VALUE });
  t.false(map.has(1));
  t.is(map.size, 0);
});

test('float64: values round-trip bit-exactly: -0, NaN, infinities, subnormals, extremes', (t) => {
  const map = newMap('float64');
  const values = [
    -0,
    0,
    NaN,
    Infinity,
    -Infinity,
    Number.MIN_VALUE, // smallest subnormal
    -Number.MIN_VALUE,
    2.225073858507201e-308, // largest subnormal
    2.2250738585072014e-308, // smallest normal
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    Number.EPSILON,
    1 / 3,
    Number.MAX_SAFE_INTEGER,
    2 ** 53 + 2,
    -1.5e300,
  ];
  values.forEach((v, i) => map.set(i, v));
  const other = SharedFlatMap.attach<number, number>(map.handle);
  values.forEach((v, i) => {
    t.is(map.get(i), v, `get ${i}`); // t.is uses Object.is: -0 !== 0, NaN === NaN
    t.is(other.get(i), v, `attached get ${i}`);
  });
  const iterated = new Map(map.entries());
  values.forEach((v, i) => t.is(iterated.get(i), v, `iterated ${i}`));
  for (let i = 0; i < 4_000; i++) map.set(1_000 + i, i / 7); // resize: the copy must be bit-exact too
  values.forEach((v, i) => t.is(map.get(i), v, `after resize ${i}`));
  t.is(map.getOrSet(-1, -0), -0);
  t.is(map.get(-1), -0);
});

test('float64: add and compareAndSet use float arithmetic and SameValueZero', (t) => {
  const map = newMap('float64');
  t.is(map.add(1, 0.1), 0.1);
  t.is(map.add(1, 0.2), 0.30000000000000004);
  t.is(map.add(2, Number.MAX_VALUE), Number.MAX_VALUE);
  t.is(map.add(2, Number.MAX_VALUE), Infinity, 'no overflow error for floats');
  t.true(Number.isNaN(map.add(3, NaN)));
  map.set(4, NaN);
  t.true(map.compareAndSet(4, NaN, 1), 'NaN matches NaN');
  t.is(map.get(4), 1);
  map.set(5, -0);
  t.true(map.compareAndSet(5, 0, 2), '+0 matches -0 (SameValueZero)');
  map.set(6, 0);
  t.true(map.compareAndSet(6, -0, 3), '-0 matches +0 (SameValueZero)');
  t.false(map.compareAndSet(6, NaN, 4));
  t.is(map.get(6), 3);
  t.true(map.compareAndSet(7, undefined, NaN));
  t.true(Number.isNaN(map.get(7)));
  t.is(map.add(8, 2.5), 2.5);
});

test('int32: values at the int32 limits round-trip', (t) => {
  const map = newMap('int32');
  for (const v of [INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX]) {
    map.set(v, v);
    t.is(map.get(v), v);
  }
  t.is(map.size, 6);
});

// ---------------------------------------------------------------- across threads

const LIB_URL = new URL('../../lib/index.js', import.meta.url).href;

/**
 * Worker (CommonJS eval code, importing the compiled lib by absolute URL):
 * creates a float64 map of 1,000 entries (several resizes), posts its handle,
 * then answers 'read' with its view of key -1, and on 'grow' adds 1,000 more
 * keys and reports 'grown'.
 */
const WORKER_CODE = `
const { parentPort } = require('node:worker_threads');
import(${JSON.stringify(LIB_URL)}).then(({ SharedFlatMap }) => {
  const map = new SharedFlatMap({ keys: 'int32', values: 'float64', capacity: 8 });
  for (let k = 0; k < 1000; k++) map.set(k, k * 1.5);
  parentPort.postMessage({ type: 'handle', handle: map.handle });
  parentPort.on('message', (message) => {
    if (message === 'read') {
      parentPort.postMessage({ type: 'read', value: map.get(-1), size: map.size });
    } else if (message === 'grow') {
      for (let k = 1000; k < 2000; k++) map.set(k, k * 1.5);
      parentPort.postMessage({ type: 'grown' });
    } else if (message === 'exit') {
      map.releaseThread();
      parentPort.close();
    }
  });
}, (error) => { throw error; });
`;

interface WorkerMessage {
  type: string;
  handle?: SharedFlatMap['handle'];
  value?: number;
  size?: number;
}

test('an attached instance has the fields of a created one, in the same order (one constructor, one hidden class)', (t) => {
  // attach opens the map through the constructor: a call site that sees created and attached
  // instances sees one shape, and no per-thread field can be forgotten on one of the two paths.
  for (const [keys, values] of [
    ['int32', 'int32'],
    ['int32', 'float64'],
    ['string', 'string'],
  ] as const) {
    const created = new SharedFlatMap<unknown, unknown>({ keys, values });
    const attached = SharedFlatMap.attach<unknown, unknown>(created.handle);
    t.deepEqual(Reflect.ownKeys(attached), Reflect.ownKeys(created), `${keys} -> ${values}`);
    t.is(Object.getPrototypeOf(attached), SharedFlatMap.prototype);
    t.deepEqual(attached.handle, created.handle);
    const key = keys === 'int32' ? 1 : 'one';
    const value = values === 'string' ? 'v' : values === 'int32' ? 7 : 1.5;
    created.set(key, value);
    t.is(attached.get(key), value);
  }
});

test('attach in the main thread to a map created in a Worker; writes flow both ways', async (t) => {
  const worker = new Worker(WORKER_CODE, { eval: true });
  const inbox: WorkerMessage[] = [];
  const waiters: ((m: WorkerMessage) => void)[] = [];
  worker.on('message', (m: WorkerMessage) => {
    const waiter = waiters.shift();
    if (waiter) waiter(m);
    else inbox.push(m);
  });
  const failed = new Promise<never>((_, reject) => {
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`worker exited early with code ${code}`)));
  });
  const next = (): Promise<WorkerMessage> => {
    const queued = inbox.shift();
    const message = queued ? Promise.resolve(queued) : new Promise<WorkerMessage>((resolve) => waiters.push(resolve));
    return Promise.race([message, failed]);
  };
  try {
    const first = await next();
    t.is(first.type, 'handle');
    if (first.handle === undefined) return t.fail('no handle');
    const map = SharedFlatMap.attach<number, number>(first.handle);
    t.is(map.valueKind, 'float64');
    t.is(map.size, 1000);
    for (let k = 0; k < 1000; k++) if (map.get(k) !== k * 1.5) t.fail(`key ${k}: ${map.get(k)}`);

    map.set(-1, 0.25);
    worker.postMessage('read');
    const read = await next();
    t.deepEqual(read, { type: 'read', value: 0.25, size: 1001 });

    worker.postMessage('grow');
    t.is((await next()).type, 'grown');
    t.is(map.size, 2001);
    const expected = new Map<number, number>([[-1, 0.25]]);
    for (let k = 0; k < 2000; k++) expected.set(k, k * 1.5);
    t.deepEqual(sorted(map), sorted(expected));
  } finally {
    worker.removeAllListeners('exit');
    await worker.terminate();
  }
});

/** Writer records of `map` whose OWNER is this thread (threadId + 1). */
function recordsOwnedHere(map: SharedFlatMap<number, number>): number[] {
  const words = new Int32Array(map.handle.memory.buffer);
  const owned: number[] = [];
  for (let n = 0; n < MAX_WRITERS; n++) if (Atomics.load(words, writerRecordAt(n) + W_OWNER) === threadId + 1) owned.push(n);
  return owned;
}

test('releaseThread on one instance of a map makes every instance in the thread give up the record', (t) => {
  const a = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
  const b = SharedFlatMap.attach<number, number>(a.handle);
  a.set(1, 1);
  b.set(2, 2);
  t.deepEqual(recordsOwnedHere(a), [0], 'both instances write through one record of this thread');
  a.releaseThread();
  t.deepEqual(recordsOwnedHere(a), [], 'released');
  // Before the fix, b kept writing through record 0 although this thread no
  // longer owned it (another thread could claim it meanwhile).
  b.set(3, 3);
  t.deepEqual(recordsOwnedHere(a), [0], 'b claimed a record again before writing');
  b.releaseThread();
  a.set(4, 4);
  t.deepEqual(recordsOwnedHere(a), [0], 'and so does a after b released it');
  for (const k of [1, 2, 3, 4]) t.is(b.get(k), k);
  t.is(a.size, 4);
});
