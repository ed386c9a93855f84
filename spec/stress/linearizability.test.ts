/**
 * Per-key linearizability across real workers, while the table migrates.
 *
 * WORKERS threads run random get / has / set / delete / add / getOrSet /
 * compareAndSet on KEYS shared keys per round (ROUNDS rounds, each started at
 * a barrier) and record every call with invoke and response ticks of one
 * shared Atomics clock. Between recorded calls each worker inserts and
 * deletes filler keys from its own range, and one more worker does nothing
 * else, so the table keeps migrating (asserted: at least MIN_GENERATIONS
 * generations). The main thread then reads every key once more (after all
 * workers returned) and checks the merged history with the Wing & Gong / Lowe
 * checker of spec/helpers.
 *
 * Runs int32 and float64 values, each in the default and strict-atomics read
 * paths. A fabricated history (one read changed to a never-written value) must
 * be rejected, so the check itself is shown to be able to fail.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { checkHistory, formatHistory, type HistoryOp } from '../helpers/linearizability.js';
import {
  Barrier,
  Clock,
  MODES,
  StopFlag,
  assertMode,
  deadlineIn,
  generationOf,
  runWorker,
  testSeed,
  workerSeeds,
  type Mode,
} from './support.js';
import type { FillerWorkerData, FillerWorkerResult } from './workers/filler.worker.js';
import type { LinearizabilityWorkerData, LinearizabilityWorkerResult } from './workers/linearizability.worker.js';

const WORKER_URL = new URL('./workers/linearizability.worker.js', import.meta.url);
const FILLER_URL = new URL('./workers/filler.worker.js', import.meta.url);

const WORKERS = 4;
/** Few shared keys per round, so operations collide. */
const KEYS = 8;
/** Rounds, each on a fresh key set, started together at a barrier. Earlier rounds' keys stay in the map. */
const ROUNDS = 24;
/** Recorded operations per key, all workers together: keeps each key's check small. */
const OPS_PER_KEY = 1_400;
/**
 * One unrecorded filler step (insert a fresh key, delete the oldest) per this
 * many recorded ops: enough for hundreds of migrations, rare enough that
 * recorded ops of different threads still overlap often.
 */
const OPS_PER_FILLER_STEP = 4;
/** Live filler keys per worker: keeps tables small, so migrations are frequent. */
const FILLER_MAX_LIVE = 16;
/**
 * Plus one worker that only churns filler keys, all along: migrations then
 * also start while recording workers are inside their critical sections, and
 * the extra thread gets them preempted there.
 */
const DEDICATED_FILLER_THREAD = WORKERS;
/** Expected entries at creation: the smallest table, so resizes start at once. */
const INITIAL_CAPACITY = 8;
/** Migrations the run must have gone through. */
const MIN_GENERATIONS = 10;
/** Wall-clock budget of one run's operations. */
const RUN_BUDGET_MS = 8_000;
/** Lines of the offending history printed on failure. */
const FAILURE_EXCERPT_OPS = 50;

/** int32 values: small, non-negative; add deltas positive, so every reachable value is >= 0. */
const INT_VALUES = [0, 1, 2, 3, 4, 5, 6, 7];
const INT_DELTAS = [1, 2, 3];
/**
 * float64 values that differ in both 32-bit words, plus -0, NaN and a
 * subnormal; all >= 0 or NaN, and deltas are positive, so negatives are unreachable.
 */
const FLOAT_VALUES = [0.1, 2.5, Math.PI, 1e300, -0, NaN, Number.MIN_VALUE, 2 ** 40 + 0.5];
const FLOAT_DELTAS = [1, 0.25, 3.5];
/** Never written and unreachable with the pools above: a read returning it is a lie. */
const NEVER_WRITTEN = -1;

interface ValueKind {
  readonly name: 'int32' | 'float64';
  readonly values: number[];
  readonly deltas: number[];
}
const VALUE_KINDS: readonly ValueKind[] = [
  { name: 'int32', values: INT_VALUES, deltas: INT_DELTAS },
  { name: 'float64', values: FLOAT_VALUES, deltas: FLOAT_DELTAS },
];

/** Ops whose [invoke, response] interval overlaps an op of another thread on the same key. */
function concurrentOps(history: readonly HistoryOp[]): number {
  const byKey = new Map<HistoryOp['key'], HistoryOp[]>();
  for (const op of history) {
    const list = byKey.get(op.key) ?? [];
    list.push(op);
    byKey.set(op.key, list);
  }
  let concurrent = 0;
  for (const ops of byKey.values()) {
    ops.sort((a, b) => a.invoke - b.invoke);
    const overlapped = new Set<HistoryOp>();
    for (let i = 0; i < ops.length; i++) {
      const a = ops[i] as HistoryOp;
      for (let j = i + 1; j < ops.length; j++) {
        const b = ops[j] as HistoryOp;
        if (b.invoke > a.response) break;
        if (b.thread !== a.thread) {
          overlapped.add(a);
          overlapped.add(b);
        }
      }
    }
    concurrent += overlapped.size;
  }
  return concurrent;
}

async function runScenario(t: ExecutionContext, kind: ValueKind, mode: Mode): Promise<void> {
  const seed = testSeed(t);
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: kind.name, capacity: INITIAL_CAPACITY });
  const rounds = Array.from({ length: ROUNDS }, (_, r) => Array.from({ length: KEYS }, (_, i) => r * KEYS + i));
  const keys = rounds.flat();
  const clockBuffer = Clock.create();
  const barrier = Barrier.create();
  const seeds = workerSeeds(seed, WORKERS);
  const deadline = deadlineIn(RUN_BUDGET_MS);
  const started = Date.now();

  const stopBuffer = StopFlag.create();
  const filler = runWorker<FillerWorkerData, FillerWorkerResult>(
    FILLER_URL,
    {
      handle: map.handle,
      stop: stopBuffer,
      thread: DEDICATED_FILLER_THREAD,
      maxLive: FILLER_MAX_LIVE,
      values: 'key',
      drain: false,
      deadline,
    },
    mode,
  );
  const recorders = Promise.all(
    seeds.map((workerSeed, thread) =>
      runWorker<LinearizabilityWorkerData, LinearizabilityWorkerResult>(
        WORKER_URL,
        {
          handle: map.handle,
          clock: clockBuffer,
          barrier,
          parties: WORKERS,
          thread,
          seed: workerSeed,
          rounds,
          opsPerKey: Math.floor(OPS_PER_KEY / WORKERS),
          values: kind.values,
          deltas: kind.deltas,
          opsPerFillerStep: OPS_PER_FILLER_STEP,
          fillerMaxLive: FILLER_MAX_LIVE,
          deadline,
        },
        mode,
      ),
    ),
  ).finally(() => new StopFlag(stopBuffer).raise());
  const [reports, fillerReport] = await Promise.all([recorders, filler]);
  assertMode(t, mode, [...reports, fillerReport]);

  // Final reads, after every worker returned: the last state must be consistent too.
  const clock = new Clock(clockBuffer);
  const history: HistoryOp[] = reports.flatMap((r) => r.result.history);
  for (const key of keys) {
    const invoke = clock.tick();
    const value = map.get(key);
    history.push({ thread: WORKERS, key, kind: 'get', result: value ?? null, invoke, response: clock.tick() });
  }

  const generations = generationOf(map);
  const fillerInserts = reports.reduce((sum, r) => sum + r.result.fillerInserts, fillerReport.result.inserts);
  const cutShort = reports.filter((r) => r.result.stoppedByDeadline).length;
  const concurrent = concurrentOps(history);
  t.log(
    `${kind.name}/${mode.name}: ${history.length} recorded ops on ${ROUNDS} x ${KEYS} keys ` +
      `(${concurrent} overlapped another thread's op on the same key), ${fillerInserts} filler inserts, ` +
      `${generations} generations, ${Date.now() - started} ms` +
      (cutShort > 0 ? `, ${cutShort} workers stopped at the deadline` : ''),
  );
  t.true(concurrent > 0, 'no two threads ever overlapped on a key: the run tested nothing concurrent');
  t.true(generations >= MIN_GENERATIONS, `only ${generations} migrations happened; want >= ${MIN_GENERATIONS}`);

  const checkStarted = Date.now();
  const verdict = checkHistory(history);
  t.log(`checked in ${Date.now() - checkStarted} ms`);
  if (!verdict.ok) {
    t.fail(
      `not linearizable (seed ${seed}), key ${String(verdict.key)}:\n${verdict.reason}\n` +
        `history excerpt:\n${formatHistory(verdict.ops.slice(0, FAILURE_EXCERPT_OPS))}`,
    );
  }

  // The same check must reject a history in which one read returned a value nobody wrote.
  const fabricated = history.map((op) => ({ ...op }));
  const victim = fabricated.find((op) => op.kind === 'get');
  if (victim === undefined) {
    t.fail('no get in the recorded history');
    return;
  }
  victim.result = NEVER_WRITTEN;
  const rejected = checkHistory(fabricated.filter((op) => op.key === victim.key));
  t.false(rejected.ok, 'the checker accepted a read of a never-written value');
}

for (const kind of VALUE_KINDS) {
  for (const mode of MODES) {
    test.serial(`linearizable per key under resizes: ${kind.name} values, ${mode.name} reads`, (t) =>
      runScenario(t, kind, mode),
    );
  }
}
