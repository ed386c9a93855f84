/**
 * The layout-6 write protocol under real concurrency: writer threads on one
 * standalone bucket table (spec/helpers/bucket-harness.ts), their keys
 * crowded into a few home buckets so that they meet on the same bucket locks
 * and the same OVERFLOW chains all the time, with a reader thread beside them.
 * Once with both writers on the JS path, once with one of them on the wasm
 * path (lib/wasm/write-bucket.wat). Afterwards: each key sits in one lane, SIZE equals the FULL lanes, every
 * displaced key's chain has OVERFLOW, every writer's own keys hold exactly
 * what it last wrote, and the reader never saw a key's value go back to an
 * older one. Bounded by time (WRITE_MS); the seed is printed.
 */
import test from 'ava';
import { Worker } from 'node:worker_threads';
import { slotStart } from '../../lib/table.js';
import { BucketHarness, createBucketTable } from '../helpers/bucket-harness.js';

const WRITERS = 2;
const WRITE_MS = 1500;
const BUCKETS = 64;
/** Own keys per writer and shared keys: well inside the insert budget (80 % of 448 lanes). */
const OWN_KEYS = 90;
const SHARED_KEYS = 60;

function run(workerData: Record<string, unknown>): Promise<Record<string, unknown>> {
  const worker = new Worker(new URL('./workers/bucket-writer.worker.js', import.meta.url), { workerData });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

for (const mode of ['js', 'wasm and js'] as const) test.serial(`writers (${mode}) crowded onto a few buckets, and a reader: every invariant and every writer's last write hold`, async (t) => {
  const seed = (Date.now() ^ (process.pid << 8)) >>> 0;
  t.log(`seed ${seed} (workers use seed + their number)`);
  const geometry = createBucketTable(BUCKETS);
  const homes = [0, 20, 41, BUCKETS - 1].map((b) => slotStart(b, BUCKETS) | 0);
  const common = { geometry, writers: WRITERS, ms: WRITE_MS, ownKeys: OWN_KEYS, sharedKeys: SHARED_KEYS, homes };
  const results = await Promise.all([
    // In the mixed mode writer 0 writes through lib/wasm/write-bucket.wat, writer 1 through the JS path.
    ...Array.from({ length: WRITERS }, (_, n) => run({ ...common, role: 'writer', n, seed: seed + n, wasm: mode !== 'js' && n === 0 })),
    run({ ...common, role: 'reader', n: WRITERS, seed: seed + WRITERS, wasm: false }),
  ]);
  const reader = results[WRITERS] as { reads: number; hits: number; backwards: number };
  const writers = results.slice(0, WRITERS) as { ops: number; waits: number; slow: number; mine: [number, number][] }[];
  t.log(`writers: ${writers.map((w) => `${w.ops} ops, ${w.waits} lock waits, ${w.slow} wasm SLOW`).join('; ')}; reader: ${reader.reads} reads, ${reader.hits} hits`);
  const hash = (k: number): number => homes[(Math.imul(k, 0x9e3779b1) >>> 0) % homes.length] as number;
  const h = new BucketHarness(geometry, WRITERS + 1, hash);
  const { problems, entries } = h.audit();
  t.deepEqual(problems, []);
  for (const [n, w] of writers.entries()) {
    const own = [...entries].filter(([k]) => k < 1_000_000 && k % WRITERS === n).sort((a, b) => a[0] - b[0]);
    t.deepEqual(own, [...w.mine].sort((a, b) => a[0] - b[0]), `writer ${n}'s keys`);
  }
  t.is(reader.backwards, 0, 'a reader saw a value older than one it had seen');
  t.true(writers.every((w) => w.ops > 1000), 'the writers ran');
  t.true(reader.hits > 1000, 'the reader found values');
  t.true(writers.some((w) => w.waits > 0), 'the writers met on bucket locks');
});
