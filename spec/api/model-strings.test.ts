/**
 * Model-based test for string keys: random operation sequences against
 * SharedFlatMap and a JS Map, compared after every operation.
 *
 * - Keys come mostly from a pool of 40 strings (so collisions, tombstones and
 *   revivals are common) of lengths 0 to ~3000 code units: ASCII, Latin-1,
 *   two-byte, astral, some with lone surrogates; sometimes a fresh random string.
 * - string values of random length (0 to a few KB) and json values (fast-check
 *   JSON values, so blocks of many size classes are allocated and freed).
 * - A tiny first table makes several resizes happen in one run; `clear` sends
 *   the map back to it. Operations go through two views (the creating
 *   instance and an attached one).
 * - fast-check prints the seed and the shrunk counterexample on failure;
 *   replay with FC_SEED=<seed> (and FC_PATH=<path>).
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SharedFlatMap } from '../../lib/index.js';

type Kind = 'string' | 'json';

type Op =
  | { op: 'set'; via: number; k: string; v: unknown }
  | { op: 'get'; via: number; k: string }
  | { op: 'has'; via: number; k: string }
  | { op: 'delete'; via: number; k: string }
  | { op: 'getOrSet'; via: number; k: string; v: unknown }
  | { op: 'compareAndSet'; via: number; k: string; expected: unknown; v: unknown }
  | { op: 'clear'; via: number }
  | { op: 'size'; via: number }
  | { op: 'iterate'; via: number };

const NUM_RUNS = 150;
const MAX_OPS = 200;

/** A fixed pool of keys: varied forms and lengths (built once, deterministic). */
const KEY_POOL: readonly string[] = (() => {
  const pool: string[] = [];
  const units = ['a', 'é', '\x85', 'ж', '漢', '😀', '\ud800', '\udfff', '0'];
  for (let i = 0; i < 40; i++) {
    const length = i < 20 ? i : i < 32 ? 20 + i * 7 : 500 + (i - 32) * 350;
    let s = `${i}:`;
    for (let j = 0; s.length < length; j++) {
      const u = units[(i * 7 + j) % units.length] as string;
      // Lone surrogates only in some keys.
      s += (u === '\ud800' || u === '\udfff') && i % 3 !== 0 ? 'x' : u;
    }
    pool.push(s);
  }
  pool.push('');
  return pool;
})();

const keyArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(...KEY_POOL) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), maxLength: 3 }) },
);

const stringValueArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 3, arbitrary: fc.string({ maxLength: 300 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 4000 }), fc.constantFrom('x', 'é', 'ж', '😀', '\ud800'))
      .map(([n, unit]) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n)),
  },
);

const jsonValueArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 2000 }).map((s) => ({ s, list: [s.length, s] })) },
);

function opArb(kind: Kind): fc.Arbitrary<Op> {
  const via = fc.integer({ min: 0, max: 1 });
  const v = kind === 'string' ? stringValueArb : jsonValueArb;
  const ops: fc.WeightedArbitrary<Op>[] = [
    { weight: 10, arbitrary: fc.record({ op: fc.constant('set' as const), via, k: keyArb, v }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant('get' as const), via, k: keyArb }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('has' as const), via, k: keyArb }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant('delete' as const), via, k: keyArb }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('getOrSet' as const), via, k: keyArb, v }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('size' as const), via }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('iterate' as const), via }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const), via }) },
  ];
  if (kind === 'string') {
    ops.push({
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('compareAndSet' as const),
        via,
        k: keyArb,
        expected: fc.option(stringValueArb, { nil: undefined, freq: 3 }),
        v,
      }),
    });
  }
  return fc.oneof(...ops);
}

/** The model stores JSON text for json values, so that the map's copies compare by content. */
const norm = (kind: Kind, v: unknown): unknown => (kind === 'json' && v !== undefined ? JSON.stringify(v) : v);

const sortedEntries = (kind: Kind, entries: Iterable<[string, unknown]>): [string, unknown][] =>
  [...entries].map(([k, v]): [string, unknown] => [k, norm(kind, v)]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

function step(kind: Kind, views: readonly SharedFlatMap<string, unknown>[], model: Map<string, unknown>, o: Op): void {
  const map = views[o.via] as SharedFlatMap<string, unknown>;
  const where = `${JSON.stringify(o).slice(0, 300)} via view ${o.via}`;
  switch (o.op) {
    case 'set':
      assert.equal(map.set(o.k, o.v), map, where);
      model.set(o.k, norm(kind, o.v));
      break;
    case 'get':
      assert.deepEqual(norm(kind, map.get(o.k)), model.get(o.k), where);
      break;
    case 'has':
      assert.equal(map.has(o.k), model.has(o.k), where);
      break;
    case 'delete':
      assert.equal(map.delete(o.k), model.delete(o.k), where);
      break;
    case 'getOrSet': {
      const present = model.get(o.k);
      assert.deepEqual(norm(kind, map.getOrSet(o.k, o.v)), present ?? norm(kind, o.v), where);
      if (present === undefined) model.set(o.k, norm(kind, o.v));
      break;
    }
    case 'compareAndSet': {
      const current = model.get(o.k);
      const matches = o.expected === undefined ? current === undefined : current === o.expected;
      assert.equal(map.compareAndSet(o.k, o.expected, o.v), matches, where);
      if (matches) model.set(o.k, o.v);
      break;
    }
    case 'clear':
      map.clear();
      model.clear();
      break;
    case 'size':
      assert.equal(map.size, model.size, where);
      break;
    case 'iterate':
      assert.deepEqual(sortedEntries(kind, map.entries()), sortedEntries('string', model.entries()), where);
      break;
  }
}

function replayParameters(): fc.Parameters<[Op[]]> {
  const seed = process.env.FC_SEED;
  const path = process.env.FC_PATH;
  return {
    numRuns: NUM_RUNS,
    ...(seed === undefined || seed === '' ? {} : { seed: Number(seed) }),
    ...(path === undefined || path === '' ? {} : { path }),
  };
}

function runModel(t: ExecutionContext, kind: Kind): void {
  let runs = 0;
  let runsWithResize = 0;
  let maxGen = 0;
  const started = Date.now();
  fc.assert(
    fc.property(fc.array(opArb(kind), { minLength: 1, maxLength: MAX_OPS, size: 'max' }), (ops) => {
      runs++;
      const created = new SharedFlatMap<string, unknown>({ keys: 'string', values: kind, capacity: 0, maxBytes: 1 << 24 });
      const views = [created, SharedFlatMap.attach<string, unknown>(created.handle)];
      const model = new Map<string, unknown>();
      let gen = 0;
      for (const o of ops) {
        step(kind, views, model, o);
        gen = Math.max(gen, SharedFlatMap.unsafeExposeInternals(created as SharedFlatMap<unknown, unknown>).gen);
      }
      for (const view of views) {
        assert.equal(view.size, model.size);
        assert.deepEqual(sortedEntries(kind, view), sortedEntries('string', model));
        for (const [k, v] of model) assert.deepEqual(norm(kind, view.get(k)), v);
      }
      if (gen >= 2) runsWithResize++;
      maxGen = Math.max(maxGen, gen);
    }),
    replayParameters(),
  );
  t.log(`${kind}: ${runs} runs (incl. shrinking), ${runsWithResize} with >= 2 migrations, max generation ${maxGen}, ${Date.now() - started} ms`);
  t.true(runsWithResize >= NUM_RUNS / 4, `only ${runsWithResize} of ${runs} runs migrated twice or more`);
}

test('string keys, string values: SharedFlatMap behaves like Map under random operation sequences', (t) => {
  runModel(t, 'string');
});

test('string keys, json values: SharedFlatMap behaves like Map under random operation sequences', (t) => {
  runModel(t, 'json');
});
