/**
 * getOrSet races: exactly one winner per key, and never two slots for one key.
 *
 * RACERS workers meet at a barrier every round and call getOrSet(key, own
 * value) on the same KEYS_PER_ROUND keys, in orders that collide head-on or
 * cross. Phase "fresh" races on keys never seen; phase "revive" on keys
 * deleted just before the round (tombstones, or keys a migration dropped).
 * The map starts at the smallest table and a filler worker keeps it
 * migrating, so races also straddle resizes.
 *
 * Asserts, per phase and key: every racer got the same value, it is one of
 * that phase's offers, and summed over racers there is exactly one win. Then,
 * quiescent: get(key) is the last phase's winner, iteration yields each key
 * exactly once, and size equals the number of keys (brief: "two threads
 * inserting the same new key must never create two slots").
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import {
  Barrier,
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
import type { GetOrSetWorkerData, GetOrSetWorkerResult } from './workers/get-or-set.worker.js';
import {
  NOT_RECORDED,
  PHASES,
  offerId,
  offeredValue,
  resultIndex,
  resultInts,
} from './workers/get-or-set.shared.js';

const WORKER_URL = new URL('./workers/get-or-set.worker.js', import.meta.url);
const FILLER_URL = new URL('./workers/filler.worker.js', import.meta.url);

const RACERS = 4;
const ROUNDS = 150;
const KEYS_PER_ROUND = 64;
const TOTAL_KEYS = ROUNDS * KEYS_PER_ROUND;
/** Expected entries at creation: the smallest table, so the fresh inserts resize it many times. */
const INITIAL_CAPACITY = 8;
const FILLER_MAX_LIVE = 32;
const MIN_GENERATIONS = 10;
/** The filler stops here at the latest; the racers have no deadline (their work is fixed). */
const FILLER_BUDGET_MS = 30_000;
/** Mismatches described in a failure message. */
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
  const seed = testSeed(t);
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: kind.name, capacity: INITIAL_CAPACITY });
  const resultsBuffer = new SharedArrayBuffer(resultInts(RACERS, TOTAL_KEYS) * Int32Array.BYTES_PER_ELEMENT);
  const results = new Int32Array(resultsBuffer).fill(NOT_RECORDED);
  const barrier = Barrier.create();
  const stopBuffer = StopFlag.create();
  const stop = new StopFlag(stopBuffer);
  const seeds = workerSeeds(seed, RACERS);

  const filler = runWorker<FillerWorkerData, FillerWorkerResult>(
    FILLER_URL,
    {
      handle: map.handle,
      stop: stopBuffer,
      thread: RACERS,
      maxLive: FILLER_MAX_LIVE,
      values: 'key',
      drain: true,
      deadline: deadlineIn(FILLER_BUDGET_MS),
    },
    mode,
  );
  const racers = seeds.map((racerSeed, racer) =>
    runWorker<GetOrSetWorkerData, GetOrSetWorkerResult>(
      WORKER_URL,
      {
        handle: map.handle,
        barrier,
        racers: RACERS,
        racer,
        seed: racerSeed,
        rounds: ROUNDS,
        keysPerRound: KEYS_PER_ROUND,
        float: kind.float,
        results: resultsBuffer,
      },
      mode,
    ),
  );
  // The filler runs until every racer is done (or failed).
  const [reports, fillerReport] = await Promise.all([Promise.all(racers).finally(() => stop.raise()), filler]);
  assertMode(t, mode, [...reports, fillerReport]);

  const generations = generationOf(map);
  const wins = reports.map((r) => r.result.wins);
  t.log(
    `${kind.name}/${mode.name}: ${TOTAL_KEYS} keys x ${PHASES.length} phases, ${generations} generations, ` +
      `wins per racer ${wins.join('/')}`,
  );
  t.true(generations >= MIN_GENERATIONS, `only ${generations} migrations happened; want >= ${MIN_GENERATIONS}`);
  t.is(
    wins.reduce((a, b) => a + b, 0),
    TOTAL_KEYS * PHASES.length,
    'summed over racers, the number of calls that stored their own value must be one per key and phase',
  );

  // Every racer got the same value for each key, and it is one of that phase's offers.
  const mismatches: string[] = [];
  const winners = new Int32Array(TOTAL_KEYS);
  PHASES.forEach((phase, phaseIndex) => {
    const firstOffer = offerId(phaseIndex, 0, RACERS);
    for (let key = 0; key < TOTAL_KEYS; key++) {
      const got = Array.from(
        { length: RACERS },
        (_, racer) => results[resultIndex(phaseIndex, racer, key, RACERS, TOTAL_KEYS)] as number,
      );
      const winner = got[0] as number;
      const agreed = got.every((id) => id === winner);
      if (!agreed || winner < firstOffer || winner >= firstOffer + RACERS) {
        mismatches.push(`${phase} key ${key}: racers got offer ids ${got.join(', ')}`);
      }
      winners[key] = winner;
    }
  });
  t.deepEqual(
    mismatches.slice(0, MISMATCHES_REPORTED),
    [],
    `getOrSet disagreed on ${mismatches.length} keys (seed ${seed})`,
  );

  // Quiescent map: the last phase's winner is stored, once per key.
  const lastPhase = PHASES.length - 1;
  const wrong: string[] = [];
  for (let key = 0; key < TOTAL_KEYS; key++) {
    const winningRacer = (winners[key] as number) - offerId(lastPhase, 0, RACERS);
    const expected = offeredValue(lastPhase, winningRacer, RACERS, kind.float);
    const value = map.get(key);
    if (value !== expected) wrong.push(`key ${key}: get ${String(value)}, winner ${expected}`);
  }
  t.deepEqual(wrong.slice(0, MISMATCHES_REPORTED), [], `${wrong.length} keys do not hold their winner`);

  const seen = new Map<number, number>();
  for (const [key] of map) seen.set(key, (seen.get(key) ?? 0) + 1);
  const duplicated = [...seen].filter(([, count]) => count > 1).map(([key, count]) => `${key} x${count}`);
  const foreign = [...seen.keys()].filter((key) => key < 0 || key >= TOTAL_KEYS);
  t.deepEqual(duplicated.slice(0, MISMATCHES_REPORTED), [], 'keys yielded more than once: two slots for one key');
  t.deepEqual(foreign.slice(0, MISMATCHES_REPORTED), [], 'keys that were never raced (filler keys should be drained)');
  t.is(seen.size, TOTAL_KEYS, 'iteration must yield every raced key');
  t.is(map.size, TOTAL_KEYS);
}

for (const kind of KINDS) {
  for (const mode of MODES) {
    test.serial(`getOrSet races have one winner and one slot per key: ${kind.name} values, ${mode.name}`, (t) =>
      runScenario(t, kind, mode),
    );
  }
}
