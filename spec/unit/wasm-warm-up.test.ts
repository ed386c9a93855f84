/**
 * The JS-to-wasm warm-up (lib/wasm/warm-up.ts) that a map runs when it is
 * created or attached, over the bucket modules (read-bucket.wat,
 * write-bucket.wat):
 *
 * - `warmUp` calls its function at least V8's generic-wrapper budget of times.
 * - `new SharedFlatMap` and `attach` call, on the map's own wasm instances and
 *   before they return, each entry point the map's `get` and `set` use for its
 *   kinds (getI32 + putI32, getF64 + putF64, getStrI32 / getStrF64 / findStr +
 *   deleteStr + putStrI32 / putStrF64) WARM_UP_CALLS times, so the wrapper
 *   for its signature is compiled before the first real call; maps whose
 *   operations make no wasm call (arena values under int32 keys, another
 *   hasher for string keys) warm nothing.
 * - Every warm-up call answers RETRY / FIND_RETRY / PUT_SLOW / DEL_SLOW and
 *   changes no word, also on the instances of a map that holds entries and
 *   whose write path has this thread's writer record (where a put that got
 *   past the generation check would really write).
 * (What the warm-up buys is a time and is measured by the benchmarks, not
 * here: set-new at 1k entries, docs/benchmarks.md.)
 */
import test from 'ava';
import { SharedFlatMap, hashers } from '../../lib/index.js';
import type { KeyKind, ValueKind } from '../../lib/layout.js';
import { GENERIC_WRAPPER_BUDGET, WARM_UP_CALLS, warmUp } from '../../lib/wasm/warm-up.js';
import { FIND_RETRY, READ_RETRY, STATUS_RETRY } from '../../lib/wasm/bucket-read-path.js';
import { DEL_SLOW, PUT_SLOW } from '../../lib/wasm/bucket-write-path.js';

test('warmUp calls its function WARM_UP_CALLS times, at least the generic-wrapper budget', (t) => {
  let calls = 0;
  warmUp(() => calls++);
  t.is(calls, WARM_UP_CALLS);
  t.true(WARM_UP_CALLS >= GENERIC_WRAPPER_BUDGET);
});

/** What each entry point a warm-up may call must answer: "nothing done, come back". */
const NOTHING_DONE: Readonly<Record<string, number>> = {
  getI32: READ_RETRY,
  getF64: STATUS_RETRY,
  getStrI32: READ_RETRY,
  getStrF64: STATUS_RETRY,
  findStr: FIND_RETRY,
  putI32: PUT_SLOW,
  putF64: PUT_SLOW,
  putStrI32: PUT_SLOW,
  putStrF64: PUT_SLOW,
  deleteStr: DEL_SLOW,
};

/** Per entry point: how often it was called, and the answers other than NOTHING_DONE's. */
type CallLog = Map<string, { calls: number; odd: unknown[] }>;

/** Wrap every function of `exports` so that calls to it are logged in `log`. */
function counting(exports: Record<string, unknown>, log: CallLog): Record<string, unknown> {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value !== 'function') {
      wrapped[name] = value;
      continue;
    }
    const fn = value as (...args: unknown[]) => unknown;
    wrapped[name] = (...args: unknown[]) => {
      const r = fn(...args);
      let entry = log.get(name);
      if (entry === undefined) log.set(name, (entry = { calls: 0, odd: [] }));
      entry.calls++;
      if (name in NOTHING_DONE && r !== NOTHING_DONE[name] && entry.odd.length < 3) entry.odd.push(r);
      return r;
    };
  }
  return wrapped;
}

interface WasmGlobal {
  WebAssembly: { Instance: new (module: unknown, imports: unknown) => { exports: Record<string, unknown> } };
}

/**
 * Run `body` with every wasm instance made meanwhile logging the calls to its
 * exports; returns the log as it was when `body` returned (the instances keep
 * logging afterwards, into a log nobody reads).
 */
function logInstances(body: () => void): CallLog {
  const api = (globalThis as unknown as WasmGlobal).WebAssembly;
  const original = api.Instance;
  const log: CallLog = new Map();
  function LoggedInstance(module: unknown, imports: unknown): { exports: Record<string, unknown> } {
    return { exports: counting(new original(module, imports).exports, log) };
  }
  api.Instance = LoggedInstance as unknown as typeof original;
  try {
    body();
  } finally {
    api.Instance = original;
  }
  return new Map([...log].map(([name, { calls, odd }]) => [name, { calls, odd: [...odd] }]));
}

const KINDS: Array<{ keys: KeyKind; values: ValueKind; fnv?: true; warmed: string[] }> = [
  { keys: 'int32', values: 'int32', warmed: ['getI32', 'putI32'] },
  { keys: 'int32', values: 'float64', warmed: ['getF64', 'putF64'] },
  { keys: 'int32', values: 'string', warmed: [] },
  { keys: 'string', values: 'int32', warmed: ['getStrI32', 'deleteStr', 'putStrI32'] },
  { keys: 'string', values: 'float64', warmed: ['getStrF64', 'deleteStr', 'putStrF64'] },
  { keys: 'string', values: 'json', warmed: ['findStr', 'deleteStr'] },
  { keys: 'string', values: 'int32', fnv: true, warmed: [] },
];

const keyOf = (keys: KeyKind, i: number): unknown => (keys === 'int32' ? i * 7 : `key-${i}`);
const valueOf = (values: ValueKind, i: number): unknown =>
  values === 'int32' ? i : values === 'float64' ? i / 4 : values === 'string' ? `v${i}` : { i };

for (const { keys, values, fnv, warmed } of KINDS) {
  const label = `${keys} -> ${values}${fnv ? ', fnv1a' : ''}`;
  const options = { keys, values, capacity: 100, ...(fnv ? { hasher: hashers.fnv1a() } : {}) };

  const what = warmed.length > 0 ? `call ${warmed.join(', ')} WARM_UP_CALLS times on the map's own instances, each answering "nothing done"` : 'warm no entry point';
  test(`${label}: new and attach ${what}`, (t) => {
    let map: SharedFlatMap<unknown, unknown> | undefined;
    const created = logInstances(() => {
      map = new SharedFlatMap<unknown, unknown>(options);
    });
    if (map === undefined) throw new Error('no map');
    for (let i = 0; i < 50; i++) map.set(keyOf(keys, i), valueOf(values, i));
    const before = SharedFlatMap.unsafeExposeInternals(map).words.slice();
    let attached: SharedFlatMap<unknown, unknown> | undefined;
    const attachedLog = logInstances(() => {
      attached = SharedFlatMap.attach(map!.handle, fnv ? { hasher: hashers.fnv1a() } : {});
    });
    t.deepEqual(Array.from(SharedFlatMap.unsafeExposeInternals(map).words), Array.from(before), 'attaching (and its warm-up) changed no word');
    for (const [what, log] of [['new', created], ['attach', attachedLog]] as const) {
      const hot = [...log].filter(([name]) => name in NOTHING_DONE).map(([name]) => name).sort();
      t.deepEqual(hot, [...warmed].sort(), `${what}: the entry points warmed`);
      for (const name of warmed) {
        const entry = log.get(name)!;
        t.true(entry.calls >= GENERIC_WRAPPER_BUDGET, `${what}: ${name} called ${entry.calls} times`);
        t.is(entry.calls, WARM_UP_CALLS, `${what}: ${name}`);
        t.deepEqual(entry.odd, [], `${what}: ${name} answered only ${NOTHING_DONE[name]}`);
      }
    }
    for (let i = 0; i < 50; i++) t.deepEqual(attached!.get(keyOf(keys, i)), valueOf(values, i));
    attached!.set(keyOf(keys, 7), valueOf(values, 70));
    t.deepEqual(map.get(keyOf(keys, 7)), valueOf(values, 70));
  });
}

for (const { keys, values, fnv, warmed } of KINDS.filter((k) => k.warmed.length > 0)) {
  test(`${keys} -> ${values}: the warm-up's calls, made again on the instances of a map in use with a writer record, change no word`, (t) => {
    const map = new SharedFlatMap<unknown, unknown>({ keys, values, capacity: 100, ...(fnv ? { hasher: hashers.fnv1a() } : {}) });
    for (let i = 0; i < 50; i++) map.set(keyOf(keys, i), valueOf(values, i));
    map.delete(keyOf(keys, 3)); // a tombstone too
    const { words, writerRecord } = SharedFlatMap.unsafeExposeInternals(map);
    t.true(writerRecord > 0, 'the map has claimed its writer record (and handed it to its wasm write path)');
    const fields = map as unknown as { wasm: Record<string, unknown>; wput: Record<string, unknown>; warmUpWasm(): void };
    const log: CallLog = new Map();
    const { wasm, wput } = fields;
    fields.wasm = counting(wasm, log);
    fields.wput = counting(wput, log);
    const before = words.slice();
    try {
      fields.warmUpWasm();
    } finally {
      fields.wasm = wasm;
      fields.wput = wput;
    }
    t.deepEqual(Array.from(words), Array.from(before), 'no word changed');
    t.deepEqual([...log.keys()].sort(), [...warmed].sort());
    for (const name of warmed) t.deepEqual(log.get(name)!.odd, [], `${name} answered only ${NOTHING_DONE[name]}`);
    for (let i = 0; i < 50; i++) t.deepEqual(map.get(keyOf(keys, i)), i === 3 ? undefined : valueOf(values, i));
  });
}
