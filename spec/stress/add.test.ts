/**
 * Atomic add across workers: no lost update, no duplicated result.
 *
 * ADDERS workers each call add(key, 1) ADDS_PER_WORKER times, on one key or
 * round robin over KEY_COUNT keys while a filler worker forces migrations.
 * Asserts the exact sum per key and that the values add() returned, over all
 * workers, are exactly 1..total per key, each once (every add saw the previous
 * one). int32 and float64 values (integer deltas, so the float sums are exact),
 * in both read paths.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import {
  Barrier,
  MODES,
  StopFlag,
  Tally,
  assertMode,
  deadlineIn,
  generationOf,
  runWorker,
  type Mode,
  type WorkerReport,
} from './support.js';
import type { AddWorkerData, AddWorkerResult } from './workers/add.worker.js';
import type { FillerWorkerData, FillerWorkerResult } from './workers/filler.worker.js';

const WORKER_URL = new URL('./workers/add.worker.js', import.meta.url);
const FILLER_URL = new URL('./workers/filler.worker.js', import.meta.url);

const ADDERS = 2;
const ADDS_PER_WORKER = 100_000;
const DELTA = 1;
/** Keys of the multi-key scenario; ADDS_PER_WORKER must be a multiple of it. */
const KEY_COUNT = 8;
/** The key of the one-key scenario, and the first key of the multi-key one. */
const SINGLE_KEY = 7;
const FIRST_MULTI_KEY = 100;
/** Expected entries at creation: the smallest table, so the filler resizes it at once. */
const INITIAL_CAPACITY = 8;
const FILLER_MAX_LIVE = 32;
/** Migrations the multi-key scenario must have gone through. */
const MIN_GENERATIONS = 10;
const FILLER_BUDGET_MS = 30_000;
const IRREGULAR_REPORTED = 10;

interface Scenario {
  readonly name: string;
  readonly keys: number[];
  readonly filler: boolean;
}
const SCENARIOS: readonly Scenario[] = [
  { name: 'one key', keys: [SINGLE_KEY], filler: false },
  {
    name: `${KEY_COUNT} keys with concurrent resizes`,
    keys: Array.from({ length: KEY_COUNT }, (_, i) => FIRST_MULTI_KEY + i),
    filler: true,
  },
];
const VALUE_KINDS = ['int32', 'float64'] as const;
/** How long to wait for the filler worker's first migration before starting the adders anyway. */
const FILLER_START_WAIT_MS = 10_000;

async function runScenario(
  t: ExecutionContext,
  scenario: Scenario,
  values: (typeof VALUE_KINDS)[number],
  mode: Mode,
): Promise<void> {
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values, capacity: INITIAL_CAPACITY });
  const keyCount = scenario.keys.length;
  const perKey = (ADDERS * ADDS_PER_WORKER) / keyCount;
  const tallyBuffer = Tally.create(keyCount, perKey * DELTA);
  const barrier = Barrier.create();
  const stopBuffer = StopFlag.create();
  const stop = new StopFlag(stopBuffer);
  const started = Date.now();

  const filler: Promise<WorkerReport<FillerWorkerResult> | undefined> = scenario.filler
    ? runWorker<FillerWorkerData, FillerWorkerResult>(
        FILLER_URL,
        {
          handle: map.handle,
          stop: stopBuffer,
          thread: 0,
          maxLive: FILLER_MAX_LIVE,
          values: 'key',
          drain: true,
          deadline: deadlineIn(FILLER_BUDGET_MS),
        },
        mode,
      )
    : Promise.resolve(undefined);
  if (scenario.filler) {
    // Start the adders only once the filler is churning (a worker can take a
    // second to start on a loaded machine), so their adds overlap migrations.
    const waitUntil = deadlineIn(FILLER_START_WAIT_MS);
    while (generationOf(map) === 0 && Date.now() < waitUntil) await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const generationsBefore = generationOf(map);
  const adders = Array.from({ length: ADDERS }, (_, i) =>
    runWorker<AddWorkerData, AddWorkerResult>(
      WORKER_URL,
      {
        handle: map.handle,
        barrier,
        parties: ADDERS,
        offset: Math.floor((i * keyCount) / ADDERS),
        keys: scenario.keys,
        adds: ADDS_PER_WORKER,
        delta: DELTA,
        tally: tallyBuffer,
        maxValue: perKey * DELTA,
      },
      mode,
    ),
  );
  const [reports, fillerReport] = await Promise.all([Promise.all(adders).finally(() => stop.raise()), filler]);
  assertMode(t, mode, fillerReport === undefined ? reports : [...reports, fillerReport]);

  const generations = generationOf(map) - generationsBefore; // migrations while the adders ran (and the filler drained)
  t.log(
    `${values}/${mode.name}/${scenario.name}: ${ADDERS} x ${ADDS_PER_WORKER} adds in ${Date.now() - started} ms, ` +
      `${generations} generations, ${reports.map((r) => r.result.interleavings).join('/')} interleavings` +
      (fillerReport === undefined ? '' : `, ${fillerReport.result.inserts} filler inserts`),
  );
  if (scenario.filler) {
    t.true(generations >= MIN_GENERATIONS, `only ${generations} migrations happened; want >= ${MIN_GENERATIONS}`);
  }

  for (const { result } of reports) {
    t.is(result.outOfRange, 0, `add returned impossible values: ${result.firstOutOfRange.join('; ')}`);
  }
  const tally = new Tally(tallyBuffer, perKey * DELTA);
  scenario.keys.forEach((key, row) => {
    t.is(map.get(key), perKey * DELTA, `key ${key}: lost or duplicated updates`);
    t.deepEqual(
      tally.irregular(row, IRREGULAR_REPORTED),
      [],
      `key ${key}: values add() returned more or less than once (value xCount)`,
    );
  });
  t.is(map.size, keyCount, 'only the added keys remain (the filler drains its own)');
}

for (const scenario of SCENARIOS) {
  for (const values of VALUE_KINDS) {
    for (const mode of MODES) {
      test.serial(`add is exact across workers: ${scenario.name}, ${values} values, ${mode.name}`, (t) =>
        runScenario(t, scenario, values, mode),
      );
    }
  }
}
