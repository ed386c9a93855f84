/**
 * Tombstone key blocks freed in place at the arena limit (reclaimTombstoneKeys
 * in lib/shared-flat-map.ts), across real workers. The map is kept at its
 * maxBytes: this thread inserts churned keys until a set answers 'full', then
 * deletes a quarter of them, and again, so inserts keep freeing the key blocks
 * of tombstones while readers in two workers read. A reader must always find
 * the stable keys' values, and for a churned key either nothing or a value
 * written for that key; at the end the map holds exactly what this thread
 * wrote. Short churned keys are read by the wasm probes, long ones by the JS
 * loop; both read paths (FLATSHARE_STRICT_ATOMICS=1 for the all-Atomics one).
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { assertMatchesModel } from '../helpers/model.js';
import { SeededPrng } from '../helpers/prng.js';
import { CHURN_NAMES, STABLE_KEYS, churnKey, stableKey, valueFor } from './reclaim.shared.js';
import { MODES, StopFlag, assertMode, runWorker, testSeed, workerSeeds, type Mode } from './support.js';
import type { ReclaimReaderData, ReclaimReaderResult } from './workers/reclaim-reader.worker.js';

const WORKER_URL = new URL('./workers/reclaim-reader.worker.js', import.meta.url);
const READERS = 2;
const MAX_BYTES = 512 * 1024;
/**
 * Presized far beyond what the arena holds: the table never grows, so there is
 * no retired region a rehash could use, and every insert that finds the arena
 * full must free tombstones' key blocks in place. Its insert budget (0.8 ×
 * 10,000 slots) runs out after ~8,000 inserts into EMPTY slots; from then on
 * the map cannot take a new key at all (no room for any new table: the arena
 * holds the rest of its maxBytes),
 * and the loop ends when it has deleted every churned key.
 */
const CAPACITY = 8_000;
const RUN_MS = 2_000;
const MIN_RECLAIMED_BLOCKS = 50;
/** Longest the writer waits for the readers to start (a stuck start fails the read counts below). */
const START_TIMEOUT_MS = 20_000;

async function runScenario(t: ExecutionContext, mode: Mode): Promise<void> {
  const seed = testSeed(t);
  const prng = new SeededPrng(seed);
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: CAPACITY, maxBytes: MAX_BYTES });
  for (let i = 0; i < STABLE_KEYS; i++) map.set(stableKey(i), valueFor(stableKey(i), 0));
  // Count what the in-place reclaim frees (a spy on this instance's private method).
  const spied = map as unknown as { reclaimTombstoneKeys(epoch: number): number };
  const reclaim = spied.reclaimTombstoneKeys.bind(map);
  let reclaimed = 0;
  spied.reclaimTombstoneKeys = (epoch) => {
    const n = reclaim(epoch);
    reclaimed += n;
    return n;
  };
  const stopBuffer = StopFlag.create();
  const started = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  const seeds = workerSeeds(seed, READERS);
  const readers = seeds.map((s) =>
    runWorker<ReclaimReaderData, ReclaimReaderResult>(WORKER_URL, { handle: map.handle, stop: stopBuffer, started, seed: s }, mode),
  );
  // Write only once every reader is reading.
  const startDeadline = Date.now() + START_TIMEOUT_MS;
  while (Atomics.load(new Int32Array(started), 0) < READERS && Date.now() < startDeadline) await new Promise((resolve) => setTimeout(resolve, 1));
  const model = new Map<string, string>();
  let version = 1;
  let next = 0;
  let fulls = 0;
  let inserts = 0;
  const deadline = Date.now() + RUN_MS;
  while (Date.now() < deadline) {
    // Names in turn, so an insert is mostly of a key without a tombstone to revive: it needs a new key block.
    const key = churnKey(next++ % CHURN_NAMES);
    const value = valueFor(key, version++);
    if (map.trySet(key, value) === 'ok') {
      model.set(key, value);
      inserts++;
      continue;
    }
    fulls++;
    const live = [...model.keys()];
    if (live.length === 0) break; // nothing left to delete: the map cannot take a churned key at all
    for (let d = 0; d < Math.max(1, live.length >> 2); d++) {
      const victim = live[prng.int(0, live.length)] as string;
      if (model.delete(victim)) t.true(map.delete(victim), `delete ${victim}`);
    }
    await new Promise((resolve) => setImmediate(resolve)); // let the readers' reports through
  }
  new StopFlag(stopBuffer).raise();
  const reports = await Promise.all(readers);
  assertMode(t, mode, reports);
  t.log(
    `${mode.name}: ${inserts} inserts, ${fulls} full answers, ${reclaimed} key blocks reclaimed in place; ` +
      reports.map(({ result: r }) => `reader: ${r.reads} reads, ${r.churnHits} churned hits, ${r.churnMisses} misses`).join('; '),
  );
  for (const { result } of reports) {
    t.is(result.violations, 0, `reader violations (seed ${seed}):\n${result.firstViolations.join('\n')}`);
    t.true(result.churnHits > 0 && result.churnMisses > 0, 'a reader saw churned keys both present and absent');
  }
  t.true(fulls > 0, 'the map reached its maxBytes');
  t.true(reclaimed >= MIN_RECLAIMED_BLOCKS, `only ${reclaimed} key blocks were reclaimed in place`);
  // Quiescent: the map holds exactly the stable keys and the model.
  for (let i = 0; i < STABLE_KEYS; i++) model.set(stableKey(i), valueFor(stableKey(i), 0));
  assertMatchesModel(t, map, model, 'after the churn');
  t.true(map.byteLength <= MAX_BYTES);
}

for (const mode of MODES) {
  test.serial(`tombstones give back their key blocks at the arena limit while workers read: ${mode.name} reads`, (t) => runScenario(t, mode));
}
