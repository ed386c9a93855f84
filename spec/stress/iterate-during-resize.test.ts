/**
 * Weakly consistent iteration while the table migrates.
 *
 * STABLE_COUNT keys are inserted before the run and never touched again;
 * FILLERS workers insert and delete filler keys all along (no clear), so the
 * table migrates again and again. An iterating worker walks the map with
 * entries(), [Symbol.iterator], forEach and keys() in turn and checks every
 * pass: no key twice, every stable key exactly once with its value, every
 * other key a filler key with its invariant value. Afterwards: filler keys
 * yielded had been inserted, at least one pass overlapped a migration (the
 * generation moved during it), and the quiescent map yields exactly the
 * stable keys. int32 and float64 values, both read paths (iteration itself
 * only uses Atomics; the mode changes how the fillers write).
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { float64ValueOf, int32ValueOf } from './invariants.js';
import {
  FILLER_KEY_SPAN,
  MODES,
  StopFlag,
  assertMode,
  deadlineIn,
  generationOf,
  runWorker,
  type Mode,
} from './support.js';
import type { FillerWorkerData, FillerWorkerResult } from './workers/filler.worker.js';
import type { IterateWorkerData, IterateWorkerResult } from './workers/iterate.worker.js';

const ITERATE_URL = new URL('./workers/iterate.worker.js', import.meta.url);
const FILLER_URL = new URL('./workers/filler.worker.js', import.meta.url);

/** Keys present for the whole run: [0, STABLE_COUNT). */
const STABLE_COUNT = 2_000;
const FILLERS = 2;
const FILLER_MAX_LIVE = 64;
/** Expected entries at creation: the smallest table. */
const INITIAL_CAPACITY = 8;
/** The iterator stops after MIN_PASSES passes of which MIN_OVERLAPPED overlapped a migration... */
const MIN_PASSES = 400;
const MIN_OVERLAPPED = 10;
/** ... or at these limits, and the test then requires at least one overlapped pass. */
const MAX_PASSES = 5_000;
const RUN_BUDGET_MS = 5_000;
const MIN_GENERATIONS = 10;
const MISMATCHES_REPORTED = 10;

interface Kind {
  readonly name: 'int32' | 'float64';
  readonly float: boolean;
}
const KINDS: readonly Kind[] = [
  { name: 'int32', float: false },
  { name: 'float64', float: true },
];

async function runScenario(t: ExecutionContext, kind: Kind, mode: Mode): Promise<void> {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: kind.name, capacity: INITIAL_CAPACITY });
  const valueOf = (key: number): number => (kind.float ? float64ValueOf(key, key) : int32ValueOf(key));
  for (let key = 0; key < STABLE_COUNT; key++) map.set(key, valueOf(key));
  const stopBuffer = StopFlag.create();
  const stop = new StopFlag(stopBuffer);
  const deadline = deadlineIn(RUN_BUDGET_MS);
  const generationsBefore = generationOf(map);

  const fillers = Array.from({ length: FILLERS }, (_, thread) =>
    runWorker<FillerWorkerData, FillerWorkerResult>(
      FILLER_URL,
      {
        handle: map.handle,
        stop: stopBuffer,
        thread,
        maxLive: FILLER_MAX_LIVE,
        values: kind.float ? 'float64-invariant' : 'int32-invariant',
        drain: true,
        deadline,
      },
      mode,
    ),
  );
  const iterator = runWorker<IterateWorkerData, IterateWorkerResult>(
    ITERATE_URL,
    {
      handle: map.handle,
      float: kind.float,
      stableCount: STABLE_COUNT,
      fillerThreads: FILLERS,
      minPasses: MIN_PASSES,
      minOverlapped: MIN_OVERLAPPED,
      maxPasses: MAX_PASSES,
      deadline,
    },
    mode,
  ).finally(() => stop.raise());
  const [report, fillerReports] = await Promise.all([iterator, Promise.all(fillers)]);
  assertMode(t, mode, [report, ...fillerReports]);
  const result = report.result;

  const generations = generationOf(map) - generationsBefore;
  t.log(
    `${kind.name}/${mode.name}: ${result.passes} passes, ${result.overlapped} overlapped a migration ` +
      `(up to ${result.maxGenerationsInPass} in one pass), ${generations} generations during the run, ` +
      `filler inserts ${fillerReports.map((r) => r.result.inserts).join('/')}`,
  );
  t.is(result.violations, 0, result.firstViolations.join('\n'));
  t.true(generations >= MIN_GENERATIONS, `only ${generations} migrations happened; want >= ${MIN_GENERATIONS}`);
  t.true(result.overlapped >= 1, 'no pass overlapped a migration: the test did not test iteration during a resize');

  // Filler keys yielded must have been inserted: their offset is below the filler's insert count.
  fillerReports.forEach(({ result: filler }, thread) => {
    const offset = result.highestFillerOffset[thread] as number;
    const inserted = Math.min(filler.inserts, FILLER_KEY_SPAN);
    t.true(offset < inserted, `filler ${thread}: a pass yielded key offset ${offset}; only ${inserted} were inserted`);
  });

  // Quiescent (the fillers drained their keys): exactly the stable keys, once each, with their values.
  const seen = new Map<number, number>();
  const wrong: string[] = [];
  for (const [key, value] of map) {
    seen.set(key, (seen.get(key) ?? 0) + 1);
    if (!Object.is(value, valueOf(key))) wrong.push(`key ${key} = ${value}`);
  }
  const irregular = [...seen].filter(([key, count]) => count !== 1 || key < 0 || key >= STABLE_COUNT);
  t.deepEqual(wrong.slice(0, MISMATCHES_REPORTED), []);
  t.deepEqual(irregular.slice(0, MISMATCHES_REPORTED), [], 'keys yielded twice or not stable');
  t.is(seen.size, STABLE_COUNT);
  t.is(map.size, STABLE_COUNT);
}

for (const kind of KINDS) {
  for (const mode of MODES) {
    test.serial(`iteration during resizes sees stable keys exactly once: ${kind.name} values, ${mode.name}`, (t) =>
      runScenario(t, kind, mode),
    );
  }
}
