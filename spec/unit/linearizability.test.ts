import test from 'ava';
import type { ExecutionContext } from 'ava';
import {
  applySequential,
  checkHistory,
  checkKeyHistory,
  formatHistory,
  LinearizabilityBudgetError,
  type CheckResult,
  type HistoryOp,
  type HistoryValue,
  type KeyState,
  type OpKind,
} from '../helpers/linearizability.js';
import { SeededPrng } from '../helpers/prng.js';

const KEY = 7;
/** Values written by generated histories are in [0, VALUE_RANGE). */
const VALUE_RANGE = 4;
/** add deltas are in [1, MAX_DELTA): all reachable values stay >= 0. */
const MAX_DELTA = 4;
/** Never written and unreachable (all values and deltas are non-negative). */
const NEVER_WRITTEN = -1;
const EXCERPT_LIMIT = 50;

type OpFields = Pick<HistoryOp, 'kind' | 'result'> & Partial<Pick<HistoryOp, 'arg' | 'expected' | 'key'>>;

/** An op on thread `thread` spanning [invoke, response]. */
function op(thread: number, invoke: number, response: number, fields: OpFields): HistoryOp {
  return { thread, key: KEY, invoke, response, ...fields };
}

/** Non-overlapping ops in the given order, all on thread 0, timestamps 1,2 / 3,4 / ... */
function sequential(...fields: OpFields[]): HistoryOp[] {
  return fields.map((f, i) => op(0, 2 * i + 1, 2 * i + 2, f));
}

const get = (result: KeyState): OpFields => ({ kind: 'get', result });
const has = (result: boolean): OpFields => ({ kind: 'has', result });
const set = (arg: HistoryValue): OpFields => ({ kind: 'set', arg, result: null });
const del = (result: boolean): OpFields => ({ kind: 'delete', result });
const add = (arg: number, result: number): OpFields => ({ kind: 'add', arg, result });
const getOrSet = (arg: HistoryValue, result: HistoryValue): OpFields => ({ kind: 'getOrSet', arg, result });
const cas = (expected: KeyState, arg: HistoryValue, result: boolean): OpFields => ({
  kind: 'compareAndSet',
  expected,
  arg,
  result,
});

function assertOk(t: ExecutionContext, result: CheckResult, ops: readonly HistoryOp[]): void {
  if (!result.ok) t.log(`${result.reason}\n${formatHistory(ops)}`);
  t.true(result.ok);
}

function assertRejected(t: ExecutionContext, result: CheckResult, key: HistoryOp['key'] = KEY): void {
  t.false(result.ok, 'checker accepted an illegal history');
  if (result.ok) return;
  t.is(result.key, key);
  t.true(result.reason.length > 0);
  t.true(result.ops.length > 0 && result.ops.length <= EXCERPT_LIMIT);
}

// ---------------------------------------------------------------------------
// Sequential histories

test('legal sequential history with every op kind is accepted', (t) => {
  const ops = sequential(
    get(null),
    has(false),
    del(false),
    set(1),
    get(1),
    has(true),
    add(2, 3),
    getOrSet(9, 3),
    cas(3, 4, true),
    cas(3, 5, false),
    get(4),
    del(true),
    add(5, 5),
    del(true),
    getOrSet(8, 8),
    cas(null, 1, false),
    del(true),
    cas(null, 'x', true),
    get('x'),
  );
  assertOk(t, checkKeyHistory(ops), ops);
});

test('empty history is accepted', (t) => {
  t.deepEqual(checkKeyHistory([]), { ok: true });
  t.deepEqual(checkHistory([]), { ok: true });
});

const illegalSequential: Array<[string, OpFields[]]> = [
  ['get returns a value never written', [set(1), get(2)]],
  ['get returns a value on a never-written key', [get(1)]],
  ['get returns a stale value after a later set completed', [set(1), set(2), get(1)]],
  ['get sees a value after delete completed', [set(1), del(true), get(1)]],
  ['has is true on an absent key', [has(true)]],
  ['delete returns true twice with no set between', [set(1), del(true), del(true)]],
  ['delete returns false on a present key', [set(1), del(false)]],
  ['add returns a wrong sum', [set(5), add(2, 8)]],
  ['add on absent does not start from 0', [add(2, 3)]],
  ['two getOrSet winners with different stored values', [getOrSet(1, 1), getOrSet(2, 2)]],
  ['getOrSet returns its own value over an existing one', [set(3), getOrSet(4, 4)]],
  ['compareAndSet succeeds on a wrong expected value', [set(1), cas(2, 3, true)]],
  ['compareAndSet fails although expected matched', [set(1), cas(1, 3, false)]],
  ['compareAndSet from absent succeeds on a present key', [set(1), cas(null, 3, true)]],
  ['compareAndSet failure still changed the value', [set(1), cas(2, 3, false), get(3)]],
  ['number and string values are distinct', [set(1), get('1')]],
];

for (const [title, fields] of illegalSequential) {
  test(`illegal sequential: ${title}`, (t) => {
    assertRejected(t, checkKeyHistory(sequential(...fields)));
  });
}

test('add on a string value is rejected', (t) => {
  assertRejected(t, checkKeyHistory(sequential(set('a'), add(1, 1))));
});

test('initial value is honoured', (t) => {
  const ops = sequential(get(5), add(1, 6));
  assertOk(t, checkKeyHistory(ops, 5), ops);
  assertRejected(t, checkKeyHistory(ops));
  assertOk(t, checkHistory(ops, new Map([[KEY, 5]])), ops);
  assertRejected(t, checkHistory(ops, new Map([[KEY + 1, 5]])));
});

// ---------------------------------------------------------------------------
// Concurrent histories

test('overlapping ops may take effect in either order', (t) => {
  // A: set(1) overlaps B: get -> 1 and B: get -> null (B's reads are sequential).
  const ops = [op(0, 1, 10, set(1)), op(1, 2, 3, get(null)), op(1, 4, 5, get(1)), op(1, 6, 7, get(1))];
  assertOk(t, checkKeyHistory(ops), ops);
});

test('a read cannot go back in time once it observed a concurrent write', (t) => {
  const ops = [op(0, 1, 10, set(1)), op(1, 2, 3, get(1)), op(1, 4, 5, get(null))];
  assertRejected(t, checkKeyHistory(ops));
});

test('only the reverse of invocation order linearizes a compareAndSet chain', (t) => {
  // Invoked C, B, A but must take effect A, B, C, then the read.
  const ops = [
    op(2, 1, 20, cas(2, 3, true)),
    op(1, 2, 19, cas(1, 2, true)),
    op(0, 3, 18, cas(null, 1, true)),
    op(3, 4, 5, get(3)),
  ];
  assertOk(t, checkKeyHistory(ops), ops);
  // Same history, but A is invoked after the read returned: the read cannot see 3.
  const late = ops.map((o) => (o.thread === 0 ? { ...o, invoke: 6 } : o));
  assertRejected(t, checkKeyHistory(late));
});

test('a later-invoked concurrent set can take effect first', (t) => {
  // set(2) is invoked after set(1) but the reads prove it went first.
  const ops = [
    op(0, 1, 20, set(1)),
    op(1, 2, 19, set(2)),
    op(2, 3, 4, get(2)),
    op(2, 5, 6, get(1)),
    op(3, 7, 8, has(true)),
  ];
  assertOk(t, checkKeyHistory(ops), ops);
});

test('concurrent add lets a getOrSet lose to the add', (t) => {
  // getOrSet(5) -> 7 only works if add(7) took effect first (absent counts as 0).
  const ops = [op(0, 1, 10, getOrSet(5, 7)), op(1, 2, 3, add(7, 7)), op(1, 4, 5, add(1, 8))];
  assertOk(t, checkKeyHistory(ops), ops);
  const bad = [op(0, 1, 10, getOrSet(5, 7)), op(1, 11, 12, add(7, 7))];
  assertRejected(t, checkKeyHistory(bad));
});

test('two concurrent getOrSet calls cannot both win with different values', (t) => {
  const ops = [op(0, 1, 10, getOrSet(1, 1)), op(1, 2, 9, getOrSet(2, 2))];
  assertRejected(t, checkKeyHistory(ops));
  const agree = [op(0, 1, 10, getOrSet(1, 1)), op(1, 2, 9, getOrSet(2, 1))];
  assertOk(t, checkKeyHistory(agree), agree);
});

test('concurrent deletes: exactly one may return true', (t) => {
  const both = [op(0, 1, 2, set(1)), op(1, 3, 10, del(true)), op(2, 4, 9, del(true))];
  assertRejected(t, checkKeyHistory(both));
  const one = [op(0, 1, 2, set(1)), op(1, 3, 10, del(true)), op(2, 4, 9, del(false))];
  assertOk(t, checkKeyHistory(one), one);
});

test('concurrent adds must sum consistently', (t) => {
  const ok = [op(0, 1, 10, add(1, 3)), op(1, 2, 9, add(2, 2)), op(2, 11, 12, get(3))];
  assertOk(t, checkKeyHistory(ok), ok);
  const lost = [op(0, 1, 10, add(1, 1)), op(1, 2, 9, add(2, 2)), op(2, 11, 12, get(2))];
  assertRejected(t, checkKeyHistory(lost));
});

test('sequentially consistent but not linearizable: completed set, later read of absent', (t) => {
  // Reordering B's get before A's set is sequentially consistent (different threads)
  // but violates real-time order.
  const ops = [op(0, 1, 2, set(1)), op(1, 3, 4, get(null))];
  assertRejected(t, checkKeyHistory(ops));
  // With overlap it is fine.
  const overlapping = [op(0, 1, 3, set(1)), op(1, 2, 4, get(null))];
  assertOk(t, checkKeyHistory(overlapping), overlapping);
});

test('stale read after a completed write observed by another thread', (t) => {
  const ops = [op(0, 1, 2, set(1)), op(1, 3, 4, get(1)), op(2, 5, 6, get(null))];
  assertRejected(t, checkKeyHistory(ops));
});

test('equal timestamps count as overlapping', (t) => {
  const ops = [op(0, 1, 3, set(1)), op(1, 3, 4, get(null))];
  assertOk(t, checkKeyHistory(ops), ops);
});

// ---------------------------------------------------------------------------
// Multi-key histories and malformed input

test('checkHistory checks keys independently and names the bad key', (t) => {
  const ops: HistoryOp[] = [
    { ...op(0, 1, 2, set(1)), key: 'a' },
    { ...op(1, 3, 4, get(null)), key: 'b' },
    { ...op(1, 5, 6, get(1)), key: 'a' },
    { ...op(0, 7, 8, set(2)), key: 'b' },
  ];
  assertOk(t, checkHistory(ops), ops);
  // Reading b as absent after set(b, 2) completed is stale; key a stays fine.
  const bad: HistoryOp[] = [...ops, { ...op(2, 9, 10, get(null)), key: 'b' }];
  assertRejected(t, checkHistory(bad), 'b');
  // Keys 1 and '1' are different keys.
  const distinct: HistoryOp[] = [
    { ...op(0, 1, 2, set(1)), key: 1 },
    { ...op(1, 3, 4, get(null)), key: '1' },
  ];
  assertOk(t, checkHistory(distinct), distinct);
});

test('malformed ops are reported, not silently accepted', (t) => {
  const inverted = [op(0, 5, 5, set(1))];
  const r1 = checkKeyHistory(inverted);
  t.false(r1.ok);
  if (!r1.ok) t.regex(r1.reason, /malformed/);
  const noArg = [op(0, 1, 2, { kind: 'set', result: null })];
  t.false(checkKeyHistory(noArg).ok);
  const badKind = [op(0, 1, 2, { kind: 'frobnicate' as OpKind, result: null })];
  t.false(checkHistory(badKind).ok);
  const threadOverlap = [op(0, 1, 4, set(1)), op(0, 2, 3, get(1))];
  const r2 = checkKeyHistory(threadOverlap);
  t.false(r2.ok);
  if (!r2.ok) t.regex(r2.reason, /overlapping/);
});

test('histories survive JSON round trips (null for absent)', (t) => {
  const ops = sequential(cas(null, 1, true), get(1), del(true), get(null));
  const copy = JSON.parse(JSON.stringify(ops)) as HistoryOp[];
  assertOk(t, checkKeyHistory(copy), copy);
  t.deepEqual(structuredClone(ops), ops);
});

test('failure report explains and excerpts around the failure point', (t) => {
  const fields: OpFields[] = [];
  for (let i = 0; i < 200; i++) fields.push(set(i), get(i));
  fields[151] = get(NEVER_WRITTEN); // the read right after set(75)
  const ops = sequential(...fields);
  const result = checkKeyHistory(ops);
  t.false(result.ok);
  if (result.ok) return;
  t.true(result.ops.length <= EXCERPT_LIMIT);
  t.true(result.ops.includes(ops[151] as HistoryOp), 'excerpt contains the failing op');
  t.regex(result.reason, /not linearizable/);
  t.regex(result.reason, /get\(\) -> -1/);
  t.regex(result.reason, /151\/400/);
  const text = formatHistory(result.ops);
  t.regex(text, /T0 key=7 set\(75\)/);
  t.log(result.reason);
});

test('formatHistory renders one line per op sorted by invoke', (t) => {
  const ops = [op(1, 3, 4, get(null)), op(0, 1, 2, cas(null, 'v', true))];
  t.is(formatHistory(ops), '[1..2] T0 key=7 compareAndSet(absent -> "v") -> true\n[3..4] T1 key=7 get() -> absent');
});

test('applySequential implements the register spec', (t) => {
  const step = (state: KeyState, fields: OpFields): KeyState | 'illegal' => {
    const r = applySequential(state, op(0, 1, 2, fields));
    return r.legal ? r.state : 'illegal';
  };
  t.is(step(null, add(3, 3)), 3);
  t.is(step(2, add(-5, -3)), -3);
  t.is(step(null, getOrSet(4, 4)), 4);
  t.is(step(1, getOrSet(4, 1)), 1);
  t.is(step(1, cas(1, 2, true)), 2);
  t.is(step(1, cas(0, 2, false)), 1);
  t.is(step(1, del(true)), null);
  t.is(step(1, del(false)), 'illegal');
  t.is(step('s', add(1, 1)), 'illegal');
});

// ---------------------------------------------------------------------------
// Randomized histories from a simulated concurrent execution

interface GeneratorOptions {
  threads: number;
  opsPerThread: number;
  /** Relative weight of starting a new op vs. advancing a pending one (higher = more overlap). */
  invokeWeight: number;
}

const KINDS: readonly OpKind[] = ['get', 'set', 'delete', 'has', 'add', 'getOrSet', 'compareAndSet'];

/**
 * Simulates `threads` synchronous workers sharing one atomic register. Each op
 * is invoked at one tick, takes effect atomically at a later point (where its
 * result is computed from the true sequential state), and responds at a later
 * tick. The resulting history is linearizable by construction.
 */
function generateHistory(prng: SeededPrng, options: GeneratorOptions): HistoryOp[] {
  interface Pending {
    thread: number;
    invoke: number;
    done: OpFields | null; // set once the op has taken effect
  }
  const remaining: number[] = new Array<number>(options.threads).fill(options.opsPerThread);
  const pending: Array<Pending | null> = new Array<Pending | null>(options.threads).fill(null);
  const history: HistoryOp[] = [];
  let clock = 0;
  let state: KeyState = null;

  const perform = (): OpFields => {
    const kind = prng.pick(KINDS);
    const value = prng.int(0, VALUE_RANGE);
    let fields: OpFields;
    switch (kind) {
      case 'get':
        fields = get(state);
        break;
      case 'has':
        fields = has(state !== null);
        break;
      case 'set':
        fields = set(value);
        break;
      case 'delete':
        fields = del(state !== null);
        break;
      case 'add': {
        const next = ((state as number | null) ?? 0) + prng.int(1, MAX_DELTA);
        fields = add(next - ((state as number | null) ?? 0), next);
        break;
      }
      case 'getOrSet':
        fields = getOrSet(value, state ?? value);
        break;
      case 'compareAndSet': {
        const expected = prng.chance(0.5) ? state : prng.pick<KeyState>([null, prng.int(0, VALUE_RANGE)]);
        fields = cas(expected, value, expected === state);
        break;
      }
    }
    const step = applySequential(state, op(0, 1, 2, fields));
    if (!step.legal) throw new Error('generator produced an illegal op');
    state = step.state;
    return fields;
  };

  for (;;) {
    const actions: Array<[number, number]> = []; // [thread, weight]
    for (let th = 0; th < options.threads; th++) {
      const p = pending[th];
      if (p === null || p === undefined) {
        if ((remaining[th] as number) > 0) actions.push([th, options.invokeWeight]);
      } else {
        actions.push([th, 1]);
      }
    }
    if (actions.length === 0) break;
    let roll = prng.float() * actions.reduce((sum, [, w]) => sum + w, 0);
    let chosen = (actions[actions.length - 1] as [number, number])[0];
    for (const [th, w] of actions) {
      roll -= w;
      if (roll < 0) {
        chosen = th;
        break;
      }
    }
    const p = pending[chosen];
    if (p === null || p === undefined) {
      pending[chosen] = { thread: chosen, invoke: ++clock, done: null };
    } else if (p.done === null) {
      p.done = perform();
    } else {
      history.push(op(chosen, p.invoke, ++clock, p.done));
      pending[chosen] = null;
      remaining[chosen] = (remaining[chosen] as number) - 1;
    }
  }
  return history;
}

/** Replaces op `index` with a guaranteed-illegal variant at the same time span. */
function corrupt(ops: readonly HistoryOp[], index: number, prng: SeededPrng): HistoryOp[] {
  const victim = ops[index] as HistoryOp;
  const poisoned: OpFields = prng.pick<OpFields>([
    get(NEVER_WRITTEN), // no linearization ever stores a negative value
    cas(NEVER_WRITTEN, 0, true), // the state never equals a negative value
    getOrSet(0, NEVER_WRITTEN), // the stored value is never negative
  ]);
  const copy = ops.map((o) => ({ ...o }));
  copy[index] = { thread: victim.thread, key: victim.key, invoke: victim.invoke, response: victim.response, ...poisoned };
  return copy;
}

function maxConcurrency(ops: readonly HistoryOp[]): number {
  const events = ops.flatMap((o) => [
    [o.invoke, 1],
    [o.response, -1],
  ]);
  events.sort((a, b) => (a[0] as number) - (b[0] as number));
  let live = 0;
  let max = 0;
  for (const [, d] of events) {
    live += d as number;
    max = Math.max(max, live);
  }
  return max;
}

const RANDOM_ROUNDS = 40;

test('randomized: simulated linearizable executions are accepted, corrupted ones rejected', (t) => {
  const seed = SeededPrng.seedFromEnv();
  t.log(`seed ${seed} (replay with FLATSHARE_SEED=${seed})`);
  const prng = new SeededPrng(seed);
  for (let round = 0; round < RANDOM_ROUNDS; round++) {
    const threads = prng.int(1, 6);
    const ops = generateHistory(prng, { threads, opsPerThread: prng.int(1, 40), invokeWeight: prng.int(1, 5) });
    const good = checkKeyHistory(ops);
    if (!good.ok) {
      t.fail(`round ${round}: legal history rejected: ${good.reason}\n${formatHistory(ops)}`);
      return;
    }
    const index = prng.int(0, ops.length);
    const bad = corrupt(ops, index, prng);
    const result = checkKeyHistory(bad);
    if (result.ok) {
      t.fail(`round ${round}: corrupted op ${index} accepted:\n${formatHistory(bad)}`);
      return;
    }
    // Shuffling the input order must not change the verdict.
    const shuffled = [...ops];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = prng.int(0, i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j] as HistoryOp, shuffled[i] as HistoryOp];
    }
    if (!checkHistory(shuffled).ok) {
      t.fail(`round ${round}: shuffled legal history rejected`);
      return;
    }
  }
  t.pass();
});

test('performance: 4 threads x 500 ops on one key with heavy overlap', (t) => {
  const seed = SeededPrng.seedFromEnv();
  t.log(`seed ${seed} (replay with FLATSHARE_SEED=${seed})`);
  const prng = new SeededPrng(seed);
  const THREADS = 4;
  const OPS_PER_THREAD = 500;
  const HEAVY_OVERLAP = 8;
  const ops = generateHistory(prng, { threads: THREADS, opsPerThread: OPS_PER_THREAD, invokeWeight: HEAVY_OVERLAP });
  t.is(ops.length, THREADS * OPS_PER_THREAD);
  t.log(`max concurrency ${maxConcurrency(ops)}`);
  let started = performance.now();
  assertOk(t, checkKeyHistory(ops), ops);
  t.log(`accepted in ${(performance.now() - started).toFixed(1)} ms`);
  const bad = corrupt(ops, prng.int(0, ops.length), prng);
  started = performance.now();
  t.false(checkKeyHistory(bad).ok);
  t.log(`rejected corrupted copy in ${(performance.now() - started).toFixed(1)} ms`);
});

test('search budget: exceeding maxConfigurations throws instead of guessing', (t) => {
  const prng = new SeededPrng(SeededPrng.seedFromEnv());
  const ops = generateHistory(prng, { threads: 4, opsPerThread: 50, invokeWeight: 8 });
  const TINY_BUDGET = 3;
  const error = t.throws(() => checkKeyHistory(ops, null, { maxConfigurations: TINY_BUDGET }), {
    instanceOf: LinearizabilityBudgetError,
  });
  t.regex(error?.message ?? '', /inconclusive/);
  t.true(checkKeyHistory(ops, null, { maxConfigurations: ops.length * 1000 }).ok);
});

test('long single-thread history does not overflow the stack', (t) => {
  const LENGTH = 20_000;
  const fields: OpFields[] = [];
  for (let i = 0; i < LENGTH; i++) fields.push(i % 2 === 0 ? add(1, i / 2 + 1) : get((i + 1) / 2));
  const ops = sequential(...fields);
  assertOk(t, checkKeyHistory(ops), ops);
  fields[LENGTH - 1] = get(0);
  assertRejected(t, checkKeyHistory(sequential(...fields)));
});

// ---------------------------------------------------------------------------
// SeededPrng

test('SeededPrng: same seed gives the same sequence, different seeds differ', (t) => {
  const SAMPLES = 100;
  const a = new SeededPrng(12345);
  const b = new SeededPrng(12345);
  const c = new SeededPrng(12346);
  const sa = Array.from({ length: SAMPLES }, () => a.next());
  const sb = Array.from({ length: SAMPLES }, () => b.next());
  const sc = Array.from({ length: SAMPLES }, () => c.next());
  t.deepEqual(sa, sb);
  t.notDeepEqual(sa, sc);
  t.true(sa.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32));
  t.is(new SeededPrng(12345 + 2 ** 32).next(), new SeededPrng(12345).next(), 'seed is reduced mod 2^32');
});

test('SeededPrng: int is lo-inclusive, hi-exclusive and covers the range', (t) => {
  const prng = new SeededPrng(SeededPrng.seedFromEnv());
  const LO = -3;
  const HI = 4;
  const SAMPLES = 5000;
  const seen = new Set<number>();
  for (let i = 0; i < SAMPLES; i++) {
    const x = prng.int(LO, HI);
    t.true(Number.isInteger(x) && x >= LO && x < HI, `int(${LO}, ${HI}) returned ${x}`);
    seen.add(x);
  }
  t.is(seen.size, HI - LO);
  t.is(prng.int(9, 10), 9);
  for (let i = 0; i < SAMPLES; i++) {
    const f = prng.float();
    if (!(f >= 0 && f < 1)) t.fail(`float() returned ${f}`);
  }
  t.throws(() => prng.int(2, 2));
  t.throws(() => prng.int(0, 1.5));
  t.throws(() => prng.pick([]));
  const items = ['a', 'b', 'c'] as const;
  t.true(items.includes(prng.pick(items)));
});

test('SeededPrng.seedFromEnv reads the variable or falls back to a random uint32', (t) => {
  const NAME = 'FLATSHARE_TEST_SEED_FOR_PRNG_SPEC';
  process.env[NAME] = '424242';
  t.is(SeededPrng.seedFromEnv(NAME), 424242);
  process.env[NAME] = 'nope';
  t.throws(() => SeededPrng.seedFromEnv(NAME));
  delete process.env[NAME];
  const seed = SeededPrng.seedFromEnv(NAME);
  t.true(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32);
});
