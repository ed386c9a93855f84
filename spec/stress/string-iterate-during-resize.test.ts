/**
 * Weakly consistent iteration over string keys while the table migrates.
 *
 * STABLE_COUNT string keys (varied forms and lengths, invariant-carrying
 * string values) are inserted before the run and never touched again; filler
 * workers insert and delete keys of their own all along, so the table
 * migrates again and again and tombstones' key blocks are freed and reused.
 * An iterating worker walks the map (entries, forEach, keys in turn) and
 * checks every pass: no key twice, every stable key exactly once with its
 * value, every other key a filler key. At least one pass must overlap a
 * migration; afterwards the quiescent map holds exactly the stable keys.
 */
import test from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { isValidStringFor, stringValueOf } from './string-invariants.js';
import { Barrier, DEFAULT_MODE, StopFlag, assertMode, deadlineIn, runWorker, testSeed, workerSeeds } from './support.js';
import type { StringTornData, StringTornResult, StringTornRole } from './workers/string-torn-read.worker.js';

const WORKER_URL = new URL('./workers/string-torn-read.worker.js', import.meta.url);

const STABLE_COUNT = 1_500;
const ROLES: StringTornRole[] = ['iterator', 'filler', 'filler'];
const FILLER_MAX_LIVE = 64;
const MIN_PASSES = 150;
const MIN_OVERLAPPED = 10;
const MAX_PASSES = 3_000;
const MIN_GENERATIONS = 10;
const RUN_BUDGET_MS = 6_000;

test.serial('iteration during resizes sees stable string keys exactly once, never twice', async (t) => {
  const seed = testSeed(t);
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 0 });
  const forms = ['', 'é', 'ж', '😀', '\ud800', 'x'];
  const keys = Array.from({ length: STABLE_COUNT }, (_, i) => `stable/${i}/${(forms[i % forms.length] as string).repeat(i % 37)}`);
  keys.forEach((key, i) => map.set(key, stringValueOf(key, i, (i * 31) % 700)));
  const generationsBefore = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen;
  const stopBuffer = StopFlag.create();
  const stop = new StopFlag(stopBuffer);
  const barrier = Barrier.create();
  const seeds = workerSeeds(seed, ROLES.length);
  const deadline = deadlineIn(RUN_BUDGET_MS);
  const runs = ROLES.map((role, thread) =>
    runWorker<StringTornData, StringTornResult>(
      WORKER_URL,
      {
        role,
        handle: map.handle,
        barrier,
        parties: ROLES.length,
        stop: stopBuffer,
        thread,
        seed: seeds[thread] as number,
        keys,
        hotKeys: 0,
        hotShare: 0,
        writerOps: 0,
        getsPerIteration: 0,
        fillerMaxLive: FILLER_MAX_LIVE,
        minPasses: MIN_PASSES,
        minOverlapped: MIN_OVERLAPPED,
        maxPasses: MAX_PASSES,
        deadline,
      },
      DEFAULT_MODE,
    ),
  );
  await (runs[0] as Promise<unknown>).finally(() => stop.raise());
  const reports = await Promise.all(runs);
  assertMode(t, DEFAULT_MODE, reports);
  const iterator = (reports[0] as (typeof reports)[number]).result;
  const generations = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen - generationsBefore;
  t.log(
    `${iterator.passes} passes, ${iterator.overlapped} overlapped a migration, ${iterator.validatedReads} values checked, ` +
      `${generations} generations, filler inserts ${reports.slice(1).map((r) => r.result.operations).join('/')}`,
  );
  for (const { result } of reports) t.is(result.violations, 0, `${result.role} (seed ${seed}):\n${result.firstViolations.join('\n')}`);
  t.true(generations >= MIN_GENERATIONS, `only ${generations} migrations; want >= ${MIN_GENERATIONS}`);
  t.true(iterator.overlapped >= 1, 'no pass overlapped a migration');

  const seen = new Map<string, number>();
  for (const [key, value] of map) {
    seen.set(key, (seen.get(key) ?? 0) + 1);
    if (!isValidStringFor(key, value)) t.fail(`after the run, ${key} holds ${value.slice(0, 60)}`);
  }
  t.is(seen.size, STABLE_COUNT);
  t.true([...seen.values()].every((n) => n === 1));
  t.true(keys.every((key) => seen.has(key)));
  t.is(map.size, STABLE_COUNT);
});
