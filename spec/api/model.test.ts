/**
 * Model-based test: random operation sequences against SharedFlatMap and a JS
 * Map, compared after every operation.
 *
 * - A small key range makes collisions, tombstones and tombstone revival common.
 * - A tiny first table (16 slots) makes several resizes (and same-size
 *   rehashes) happen inside one run; `clear` sends the map back to 16 slots.
 * - Operations go through two views of the same map (the creating instance
 *   and an `attach`ed one), so each view must follow the other's resizes.
 * - fast-check prints the seed and the shrunk counterexample on failure;
 *   replay with `FC_SEED=<seed>` (and `FC_PATH=<path>`).
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ErrorCode, SharedFlatMap } from '../../lib/index.js';

type Kind = 'int32' | 'float64';

type Op =
  | { op: 'set'; via: number; k: number; v: number }
  | { op: 'get'; via: number; k: number }
  | { op: 'has'; via: number; k: number }
  | { op: 'delete'; via: number; k: number }
  | { op: 'add'; via: number; k: number; v: number }
  | { op: 'getOrSet'; via: number; k: number; v: number }
  | { op: 'compareAndSet'; via: number; k: number; expected: number | undefined; v: number }
  | { op: 'clear'; via: number }
  | { op: 'size'; via: number }
  | { op: 'iterate'; via: number };

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const NUM_RUNS = 1000;
const MAX_OPS = 300;

/** Keys: mostly a small range (collisions, tombstones), sometimes anywhere in int32. */
const keyArb = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 47 }) },
  { weight: 1, arbitrary: fc.integer({ min: INT32_MIN, max: INT32_MAX }) },
);

function valueArb(kind: Kind): fc.Arbitrary<number> {
  if (kind === 'int32') {
    return fc.oneof(
      { weight: 8, arbitrary: fc.integer({ min: -5, max: 5 }) },
      { weight: 2, arbitrary: fc.integer({ min: INT32_MIN, max: INT32_MAX }) },
      { weight: 1, arbitrary: fc.constantFrom(INT32_MIN, INT32_MAX, INT32_MAX - 1) },
    );
  }
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(0, -0, NaN, 1, 2.5, -1, Infinity) },
    { weight: 4, arbitrary: fc.double() },
  );
}

function opArb(kind: Kind): fc.Arbitrary<Op> {
  const via = fc.integer({ min: 0, max: 1 });
  const v = valueArb(kind);
  return fc.oneof(
    { weight: 10, arbitrary: fc.record({ op: fc.constant('set' as const), via, k: keyArb, v }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant('get' as const), via, k: keyArb }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('has' as const), via, k: keyArb }) },
    { weight: 6, arbitrary: fc.record({ op: fc.constant('delete' as const), via, k: keyArb }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('add' as const), via, k: keyArb, v }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('getOrSet' as const), via, k: keyArb, v }) },
    {
      weight: 4,
      arbitrary: fc.record({
        op: fc.constant('compareAndSet' as const),
        via,
        k: keyArb,
        expected: fc.option(v, { nil: undefined, freq: 3 }),
        v,
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('size' as const), via }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('iterate' as const), via }) },
    { weight: 1, arbitrary: fc.constant({ op: 'clear' as const, via: 0 }) },
  );
}

/** SameValueZero, the equality Map (and compareAndSet) uses. */
const sameValueZero = (a: number, b: number): boolean => a === b || (a !== a && b !== b);

const sortedEntries = (entries: Iterable<[number, number]>): [number, number][] =>
  [...entries].sort((a, b) => a[0] - b[0]);

/** Apply one op to the map and the model; assert equal results (assert uses Object.is: -0 and NaN exact). */
function step(kind: Kind, views: readonly SharedFlatMap<number, number>[], model: Map<number, number>, o: Op): void {
  const map = views[o.via] as SharedFlatMap<number, number>;
  const where = `${JSON.stringify(o)} via view ${o.via}`;
  switch (o.op) {
    case 'set':
      assert.equal(map.set(o.k, o.v), map, where);
      model.set(o.k, o.v);
      break;
    case 'get':
      assert.equal(map.get(o.k), model.get(o.k), where);
      break;
    case 'has':
      assert.equal(map.has(o.k), model.has(o.k), where);
      break;
    case 'delete':
      assert.equal(map.delete(o.k), model.delete(o.k), where);
      break;
    case 'add': {
      const next = (model.get(o.k) ?? 0) + o.v;
      if (kind === 'int32' && (next | 0) !== next) {
        assert.throws(() => map.add(o.k, o.v), { name: 'FlatshareRangeError', code: ErrorCode.VALUE }, where);
      } else {
        assert.equal(map.add(o.k, o.v), next, where);
        model.set(o.k, next);
      }
      break;
    }
    case 'getOrSet': {
      const present = model.get(o.k);
      assert.equal(map.getOrSet(o.k, o.v), present ?? o.v, where);
      if (present === undefined) model.set(o.k, o.v);
      break;
    }
    case 'compareAndSet': {
      const current = model.get(o.k);
      const matches =
        o.expected === undefined ? current === undefined : current !== undefined && sameValueZero(current, o.expected);
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
      assert.deepEqual(sortedEntries(map.entries()), sortedEntries(model.entries()), where);
      break;
  }
}

/** numRuns, plus `seed`/`path` from FC_SEED/FC_PATH to replay a reported failure. */
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
  fc.assert(
    fc.property(fc.array(opArb(kind), { minLength: 1, maxLength: MAX_OPS, size: 'max' }), (ops) => {
      runs++;
      const created = new SharedFlatMap<number, number>({ keys: 'int32', values: kind, capacity: 0, maxBytes: 1 << 20 });
      const views = [created, SharedFlatMap.attach<number, number>(created.handle)];
      const model = new Map<number, number>();
      let gen = 0;
      for (const o of ops) {
        step(kind, views, model, o);
        gen = Math.max(gen, SharedFlatMap.unsafeExposeInternals(created).gen);
      }
      // Final full comparison through both views.
      for (const view of views) {
        assert.equal(view.size, model.size);
        assert.deepEqual(sortedEntries(view), sortedEntries(model));
        for (const [k, v] of model) assert.equal(view.get(k), v);
      }
      if (gen >= 2) runsWithResize++;
      maxGen = Math.max(maxGen, gen);
    }),
    replayParameters(),
  );
  t.log(`${runs} runs (incl. shrinking), ${runsWithResize} with >= 2 migrations, max generation ${maxGen}`);
  t.true(runsWithResize >= NUM_RUNS / 4, `only ${runsWithResize} of ${runs} runs migrated twice or more`);
}

test('int32 values: SharedFlatMap behaves like Map under random operation sequences', (t) => {
  runModel(t, 'int32');
});

test('float64 values: SharedFlatMap behaves like Map under random operation sequences', (t) => {
  runModel(t, 'float64');
});
