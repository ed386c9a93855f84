/**
 * For spec/unit/bucket-write-workers.test.ts: one thread writing (or reading)
 * a standalone bucket table shared with others (spec/helpers/bucket-harness.ts).
 *
 * - role 'writer' (record `n` of `writers`): until the deadline, random sets
 *   and deletes of its own keys (k % writers === n, values from one counter
 *   that only grows) and of the shared keys (every writer's); reports its
 *   own keys' final values.
 * - role 'reader': until the deadline, reads random own keys of the writers
 *   and checks that no key's value ever goes back to a smaller one (every
 *   later write of a key carries a larger counter), reports the violations.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BucketHarness, type HarnessGeometry } from '../../helpers/bucket-harness.js';
import { SeededPrng } from '../../helpers/prng.js';

const { geometry, role, n, writers, seed, ms, ownKeys, sharedKeys, homes, wasm } = workerData as {
  geometry: HarnessGeometry;
  role: 'writer' | 'reader';
  n: number;
  writers: number;
  seed: number;
  ms: number;
  ownKeys: number;
  sharedKeys: number;
  homes: number[];
  /** Write through lib/wasm/write-bucket.wat first (the JS path on SLOW). */
  wasm: boolean;
};
/** The test's crowded hash: every key homed at one of `homes` (hash values). */
const hash = (k: number): number => homes[(Math.imul(k, 0x9e3779b1) >>> 0) % homes.length] as number;
const h = new BucketHarness(geometry, n, hash, wasm);
const prng = new SeededPrng(seed);
/** Own keys of writer w: w, w + writers, ...; shared keys: from SHARED_BASE. */
const SHARED_BASE = 1_000_000;
const ownKey = (w: number): number => w + writers * (prng.next() % ownKeys);
const deadline = Date.now() + ms;

if (role === 'writer') {
  const mine = new Map<number, number>();
  let counter = 0;
  let ops = 0;
  while (Date.now() < deadline) {
    for (let i = 0; i < 200; i++, ops++) {
      const shared = prng.next() % 4 === 0;
      const k = shared ? SHARED_BASE + (prng.next() % sharedKeys) : ownKey(n);
      if (prng.next() % 3 === 0) {
        const had = h.delete(k);
        if (!shared && had !== mine.delete(k)) throw new Error(`delete ${k}: ${had}, own record says ${!had}`);
      } else {
        const v = ++counter;
        if (h.set(k, v) === 'full') throw new Error('insert budget spent');
        if (!shared) mine.set(k, v);
      }
    }
  }
  parentPort?.postMessage({ ops, waits: h.waits, slow: h.slow, mine: [...mine] });
} else {
  const last = new Map<number, number>();
  let reads = 0;
  let backwards = 0;
  let hits = 0;
  while (Date.now() < deadline) {
    for (let i = 0; i < 500; i++, reads++) {
      const k = ownKey(prng.next() % writers);
      const v = h.get(k);
      if (v === undefined) continue;
      hits++;
      if (v < (last.get(k) ?? 0)) backwards++;
      last.set(k, v);
    }
  }
  parentPort?.postMessage({ reads, hits, backwards });
}
