/**
 * Per-key linearizability across real workers for string keys, with string
 * values (both read paths), json values, and int32 / float64 values (whose
 * sets of short one-byte keys run the wasm put, the others the JS path, on the
 * same map), while the table migrates.
 *
 * WORKERS threads run random operations on KEYS shared string keys per round
 * (keys of varied forms and lengths) and record them with an Atomics clock;
 * between recorded ops each inserts and deletes filler keys of its own, so
 * the table (started at the smallest size) migrates many times (asserted).
 * Values vary in length from 0 to a few KB, so overwrites move between size
 * classes and free and reuse blocks all along. The merged history is checked
 * with the Wing & Gong / Lowe checker of spec/helpers; a fabricated read of a
 * never-written value must be rejected by the same check.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { checkHistory, formatHistory, type HistoryOp, type HistoryValue } from '../helpers/linearizability.js';
import { Barrier, Clock, DEFAULT_MODE, STRICT_MODE, assertMode, deadlineIn, runWorker, testSeed, workerSeeds, type Mode } from './support.js';
import type { StringLinearizabilityData, StringLinearizabilityResult } from './workers/string-linearizability.worker.js';

const WORKER_URL = new URL('./workers/string-linearizability.worker.js', import.meta.url);

const WORKERS = 4;
const KEYS = 6;
const ROUNDS = 16;
const OPS_PER_KEY = 1_000;
const OPS_PER_FILLER_STEP = 3;
const FILLER_MAX_LIVE = 16;
const MIN_GENERATIONS = 10;
const RUN_BUDGET_MS = 5_000;
const FAILURE_EXCERPT_OPS = 50;

/** String values: empty, short, Latin-1, two-byte, astral, a lone surrogate, a few KB. */
const STRING_VALUES = ['', 'a', 'é\x80\xff', 'жжж', '😀'.repeat(40), 'x\ud800', 'L'.repeat(1500), 'ß'.repeat(3000)];
/** json values, as their canonical JSON text. */
const JSON_VALUES = [null, 0, 'é', [1, 2, 3], { a: 'ж'.repeat(200) }, { nested: { list: ['x'.repeat(2000)] } }, true, -7.5].map(
  (v) => JSON.stringify(v),
);

/** int32 values: the extremes, zero, and INT32_MIN (the add hand-back sentinel, a real value here). */
const INT32_VALUES = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 12345, -777];
/** float64 values (no NaN or -0: the checker compares with ===). */
const FLOAT64_VALUES = [1.5, -2.25, 1e300, 3, 2 ** 53 + 2, -7.125, Number.MIN_VALUE];
type ValueKind = 'string' | 'json' | 'int32' | 'float64';
const VALUES: Record<ValueKind, HistoryValue[]> = { string: STRING_VALUES, json: JSON_VALUES, int32: INT32_VALUES, float64: FLOAT64_VALUES };

function keyOf(round: number, i: number): string {
  const forms = ['', 'é', 'ж', '😀', '\udc00'];
  return `r${round}/k${i}/` + (forms[i % forms.length] as string).repeat(i * 13);
}

async function runScenario(t: ExecutionContext, kind: ValueKind, mode: Mode): Promise<void> {
  const seed = testSeed(t);
  const json = kind === 'json';
  const map = new SharedFlatMap<string, unknown>({ keys: 'string', values: kind, capacity: 0 });
  const rounds = Array.from({ length: ROUNDS }, (_, r) => Array.from({ length: KEYS }, (_, i) => keyOf(r, i)));
  const clockBuffer = Clock.create();
  const barrier = Barrier.create();
  const seeds = workerSeeds(seed, WORKERS);
  const deadline = deadlineIn(RUN_BUDGET_MS);
  const started = Date.now();
  const values = VALUES[kind];

  const reports = await Promise.all(
    seeds.map((workerSeed, thread) =>
      runWorker<StringLinearizabilityData, StringLinearizabilityResult>(
        WORKER_URL,
        {
          handle: map.handle,
          kind,
          clock: clockBuffer,
          barrier,
          parties: WORKERS,
          thread,
          seed: workerSeed,
          rounds,
          opsPerKey: Math.floor(OPS_PER_KEY / WORKERS),
          values,
          opsPerFillerStep: OPS_PER_FILLER_STEP,
          fillerMaxLive: FILLER_MAX_LIVE,
          deadline,
        },
        mode,
      ),
    ),
  );
  assertMode(t, mode, reports);

  const clock = new Clock(clockBuffer);
  const history: HistoryOp[] = reports.flatMap((r) => r.result.history);
  for (const key of rounds.flat()) {
    const invoke = clock.tick();
    const value = map.get(key);
    const result = value === undefined ? null : json ? JSON.stringify(value) : (value as HistoryValue);
    history.push({ thread: WORKERS, key, kind: 'get', result, invoke, response: clock.tick() });
  }
  const generations = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen;
  const fillerInserts = reports.reduce((sum, r) => sum + r.result.fillerInserts, 0);
  const cutShort = reports.filter((r) => r.result.stoppedByDeadline).length;
  t.log(
    `${kind}/${mode.name}: ${history.length} recorded ops on ${ROUNDS} x ${KEYS} keys, ` +
      `${fillerInserts} filler inserts, ${generations} generations, ${Date.now() - started} ms` +
      (cutShort > 0 ? `, ${cutShort} workers stopped at the deadline` : ''),
  );
  t.true(generations >= MIN_GENERATIONS, `only ${generations} migrations happened; want >= ${MIN_GENERATIONS}`);
  t.true(history.length >= ROUNDS * KEYS * 100, `only ${history.length} ops recorded`);

  const verdict = checkHistory(history);
  if (!verdict.ok) {
    t.fail(
      `not linearizable (seed ${seed}), key ${JSON.stringify(verdict.key)}:\n${verdict.reason}\n` +
        `history excerpt:\n${formatHistory(verdict.ops.slice(0, FAILURE_EXCERPT_OPS))}`,
    );
  }
  const fabricated = history.map((op) => ({ ...op }));
  const victim = fabricated.find((op) => op.kind === 'get');
  if (victim === undefined) {
    t.fail('no get in the recorded history');
    return;
  }
  victim.result = 'never written';
  t.false(checkHistory(fabricated.filter((op) => op.key === victim.key)).ok, 'the checker accepted a never-written value');
}

test.serial('linearizable per key under resizes: string keys, string values, default reads', (t) => runScenario(t, 'string', DEFAULT_MODE));
test.serial('linearizable per key under resizes: string keys, string values, strict-atomics reads', (t) =>
  runScenario(t, 'string', STRICT_MODE),
);
test.serial('linearizable per key under resizes: string keys, json values, default reads', (t) => runScenario(t, 'json', DEFAULT_MODE));
test.serial('linearizable per key under resizes: string keys, int32 values (wasm put and JS path), default', (t) =>
  runScenario(t, 'int32', DEFAULT_MODE),
);
test.serial('linearizable per key under resizes: string keys, int32 values (wasm put and JS path), strict atomics', (t) =>
  runScenario(t, 'int32', STRICT_MODE),
);
test.serial('linearizable per key under resizes: string keys, float64 values (wasm put and JS path), default', (t) =>
  runScenario(t, 'float64', DEFAULT_MODE),
);
