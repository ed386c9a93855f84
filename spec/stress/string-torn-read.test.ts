/**
 * Torn and misdirected reads of string values, across real workers.
 *
 * Every value carries an invariant tied to its key (string-invariants.ts): a
 * header with the key, a version and the body length, then a body generated
 * from them, 0 to 3000 code units, one- or two-byte form, so overwrites move
 * values between size classes and blocks are freed and reused under readers.
 * Writers keep rewriting the shared keys; readers get() and iterate and check
 * every value they see; a filler worker keeps the table migrating. A reader
 * must never throw and never return a string that was not written whole for
 * that key. Both read paths (FLATSHARE_STRICT_ATOMICS=1 in the workers' env
 * for the all-Atomics path). The invariant itself is checked to reject
 * prefixes, splices and another key's value.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { isValidStringFor, stringValueOf } from './string-invariants.js';
import { Barrier, MODES, StopFlag, assertMode, deadlineIn, runWorker, testSeed, workerSeeds, type Mode } from './support.js';
import type { StringTornData, StringTornResult, StringTornRole } from './workers/string-torn-read.worker.js';

const WORKER_URL = new URL('./workers/string-torn-read.worker.js', import.meta.url);

const KEY_COUNT = 64;
const HOT_KEYS = 2;
const HOT_SHARE = 0.9;
const WRITER_OPS = 200_000;
const GETS_PER_ITERATION = 2_000;
const FILLER_MAX_LIVE = 48;
const MIN_GENERATIONS = 10;
const MIN_VALIDATED_READS_PER_READER = 5_000;
const RUN_BUDGET_MS = 5_000;

const ROLES: StringTornRole[] = ['writer', 'writer', 'reader', 'reader', 'filler'];

test('the string invariant accepts every valid value and rejects prefixes, splices and other keys\' values', (t) => {
  const key = 'k/é';
  const a = stringValueOf(key, 5, 2000);
  const b = stringValueOf(key, 6, 2000);
  for (const length of [0, 1, 23, 24, 25, 300, 3000]) {
    for (const version of [0, 1, 2, 1 << 19]) t.true(isValidStringFor(key, stringValueOf(key, version, length)));
  }
  t.not(a, b);
  t.false(isValidStringFor(key, a.slice(0, -1)), 'a prefix');
  t.false(isValidStringFor(key, a.slice(0, 1000) + b.slice(1000)), 'half of one write, half of another');
  t.false(isValidStringFor(key, a + 'x'), 'a longer string');
  t.false(isValidStringFor('k/e', stringValueOf('k/e', 5, 2000).replace('k/e', key)), 'another key\'s body');
  t.false(isValidStringFor('other', a), 'another key\'s value');
  t.false(isValidStringFor(key, ''));
  t.false(isValidStringFor(key, undefined));
  // Values of one key come in both encoding forms.
  t.true([...stringValueOf(key, 3, 200)].every((c) => c.charCodeAt(0) <= 0xff), 'version % 3 === 0: one-byte form');
  t.true([...stringValueOf(key, 4, 200)].some((c) => c.charCodeAt(0) > 0xff), 'other versions: two-byte form');
});

async function runScenario(t: ExecutionContext, mode: Mode): Promise<void> {
  const seed = testSeed(t);
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 0 });
  const keys = Array.from({ length: KEY_COUNT }, (_, i) => `shared/${i}/${'é'.repeat(i % 3)}${'ж'.repeat(i % 2)}`);
  const barrier = Barrier.create();
  const stopBuffer = StopFlag.create();
  const stop = new StopFlag(stopBuffer);
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
        hotKeys: HOT_KEYS,
        hotShare: HOT_SHARE,
        writerOps: WRITER_OPS,
        getsPerIteration: GETS_PER_ITERATION,
        fillerMaxLive: FILLER_MAX_LIVE,
        minPasses: 0,
        minOverlapped: 0,
        maxPasses: 0,
        deadline,
      },
      mode,
    ),
  );
  await Promise.all(runs.filter((_, i) => ROLES[i] === 'writer')).finally(() => stop.raise());
  const reports = await Promise.all(runs);
  assertMode(t, mode, reports);

  const generations = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen;
  t.log(
    `${mode.name}: ${generations} generations; ` +
      reports.map(({ result: r }) => `${r.role}: ${r.operations} ops` + (r.role === 'reader' ? `, ${r.validatedReads} validated, ${r.changesSeen} changes seen` : '')).join('; '),
  );
  t.true(generations >= MIN_GENERATIONS, `only ${generations} migrations happened; want >= ${MIN_GENERATIONS}`);
  for (const { result } of reports) {
    t.is(result.violations, 0, `${result.role}: torn or misdirected reads (seed ${seed}):\n${result.firstViolations.join('\n')}`);
    if (result.role !== 'reader') continue;
    t.true(result.validatedReads >= MIN_VALIDATED_READS_PER_READER, `a reader validated only ${result.validatedReads} reads`);
    t.true(result.changesSeen > 0, 'a reader never saw a value change: reads and writes did not overlap');
  }
  // Quiescent: every entry is a shared key with a valid value (the filler drained its keys).
  for (const [key, value] of map) if (!isValidStringFor(key, value)) t.fail(`after the run, ${key} holds ${value.slice(0, 60)}`);
  t.true([...map.keys()].every((key) => keys.includes(key)));
}

for (const mode of MODES) {
  test.serial(`no torn or misdirected string reads while values change size class and the table resizes: ${mode.name} reads`, (t) =>
    runScenario(t, mode),
  );
}
