/**
 * Space freed by overwrites, deletes, migrations and clear is reused: the
 * buffer and ALLOC_TOP (the bump pointer) stop growing after a warm-up.
 *
 * - one key overwritten 1,000,000 times with values of 0-300 chars;
 * - 10k keys inserted and deleted again and again (tombstones, rehashes);
 * - many resizes with tombstones: tombstone key blocks are freed after the
 *   flip, and clear frees every block.
 * Each scenario measures ALLOC_TOP after a warm-up and at the end and
 * requires (nearly) no growth in between; the figures are logged.
 */
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { H_ALLOC_TOP, INT_BYTES } from '../../lib/layout.js';
import { SeededPrng } from '../helpers/prng.js';

function allocTop(map: SharedFlatMap<unknown, unknown>): number {
  return Atomics.load(SharedFlatMap.unsafeExposeInternals(map).words, H_ALLOC_TOP);
}

interface Growth {
  topAfterWarmup: number;
  topAtEnd: number;
  bytesAfterWarmup: number;
  bytesAtEnd: number;
}

function measure(map: SharedFlatMap<unknown, unknown>, warmup: () => void, run: () => void): Growth {
  warmup();
  const topAfterWarmup = allocTop(map);
  const bytesAfterWarmup = map.handle.memory.buffer.byteLength;
  run();
  return { topAfterWarmup, topAtEnd: allocTop(map), bytesAfterWarmup, bytesAtEnd: map.handle.memory.buffer.byteLength };
}

function report(t: ExecutionContext, label: string, g: Growth): void {
  t.log(
    `${label}: ALLOC_TOP ${g.topAfterWarmup} -> ${g.topAtEnd} words (+${(g.topAtEnd - g.topAfterWarmup) * INT_BYTES} bytes), ` +
      `buffer ${g.bytesAfterWarmup} -> ${g.bytesAtEnd} bytes`,
  );
}

/** A value of `n` chars, mixing one- and two-byte forms so both move between classes. */
function valueOf(n: number, i: number): string {
  return (i % 3 === 0 ? 'ж' : 'v').repeat(n);
}

test('one key overwritten 1,000,000 times with values of 0-300 chars: the buffer stops growing', (t) => {
  const seed = Number(process.env.FLATSHARE_SEED ?? 1);
  const prng = new SeededPrng(seed);
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string' });
  const m = map as SharedFlatMap<unknown, unknown>;
  const TOTAL = 1_000_000;
  const WARMUP = 20_000;
  let last = '';
  const g = measure(
    m,
    () => {
      for (let i = 0; i < WARMUP; i++) map.set('the key', (last = valueOf(prng.int(0, 301), i)));
    },
    () => {
      for (let i = WARMUP; i < TOTAL; i++) map.set('the key', (last = valueOf(prng.int(0, 301), i)));
    },
  );
  report(t, `seed ${seed}, ${TOTAL} overwrites`, g);
  t.is(map.get('the key'), last);
  t.is(map.size, 1);
  t.is(g.topAtEnd, g.topAfterWarmup, 'ALLOC_TOP grew after the warm-up');
  t.is(g.bytesAtEnd, g.bytesAfterWarmup, 'the buffer grew after the warm-up');
  // And the warm-up itself stayed small: at most a block per class in use plus one spare.
  t.true(g.bytesAtEnd <= 2 * 1024 * 1024, `buffer is ${g.bytesAtEnd} bytes`);
});

test('10k keys inserted and deleted again and again (string and json values): growth is bounded', (t) => {
  for (const values of ['string', 'json'] as const) {
    const map = new SharedFlatMap<string, unknown>({ keys: 'string', values, capacity: 16 });
    const m = map as SharedFlatMap<unknown, unknown>;
    const KEYS = 10_000;
    const ROUNDS = 12;
    const cycle = (round: number): void => {
      for (let i = 0; i < KEYS; i++) {
        const v = valueOf((i * 7 + round) % 120, i);
        map.set(`key:${i}:${'é'.repeat(i % 9)}`, values === 'json' ? { v, round } : v);
      }
      for (let i = 0; i < KEYS; i++) map.delete(`key:${i}:${'é'.repeat(i % 9)}`);
    };
    const g = measure(
      m,
      () => {
        cycle(0);
        cycle(1);
      },
      () => {
        for (let round = 2; round < ROUNDS; round++) cycle(round);
      },
    );
    report(t, `${values}: ${ROUNDS} rounds of ${KEYS} inserts + deletes, generation ${SharedFlatMap.unsafeExposeInternals(m).gen}`, g);
    t.is(map.size, 0);
    // Allowed slack: one table region's worth (a table may land on fresh memory once more).
    const tableBytes = 64 * 1024 * 4 * INT_BYTES;
    t.true((g.topAtEnd - g.topAfterWarmup) * INT_BYTES <= tableBytes, `${values}: ALLOC_TOP kept growing`);
    t.true(g.bytesAtEnd - g.bytesAfterWarmup <= tableBytes, `${values}: the buffer kept growing`);
  }
});

test('many resizes with tombstones: tombstone key blocks are freed after the flip; clear frees all blocks', (t) => {
  const map = new SharedFlatMap<string, string>({ keys: 'string', values: 'string', capacity: 0 });
  const m = map as SharedFlatMap<unknown, unknown>;
  // Each round: insert 3,000 fresh keys (never reused: every delete leaves a
  // tombstone whose key block only a migration frees), delete them all, and
  // every 4th round clear() a map that holds 500 live entries.
  let serial = 0;
  const round = (r: number): void => {
    const keys: string[] = [];
    for (let i = 0; i < 3_000; i++) {
      const key = `fresh-${serial++}-${'k'.repeat(serial % 40)}`;
      keys.push(key);
      map.set(key, valueOf(serial % 200, serial));
    }
    for (const key of keys) map.delete(key);
    if (r % 4 === 3) {
      for (let i = 0; i < 500; i++) map.set(`live-${serial++}`, valueOf(serial % 300, serial));
      map.clear();
    }
  };
  const genBefore = SharedFlatMap.unsafeExposeInternals(m).gen;
  const g = measure(
    m,
    () => {
      for (let r = 0; r < 8; r++) round(r);
    },
    () => {
      for (let r = 8; r < 60; r++) round(r);
    },
  );
  const generations = SharedFlatMap.unsafeExposeInternals(m).gen - genBefore;
  report(t, `${serial} distinct keys, ${generations} generations`, g);
  t.true(generations > 100, `only ${generations} migrations`);
  t.is(map.size, 0);
  t.deepEqual([...map], []);
  // Without freeing tombstone keys, 150k distinct keys of ~30 bytes would leak > 4 MiB.
  t.true((g.topAtEnd - g.topAfterWarmup) * INT_BYTES <= 256 * 1024, 'ALLOC_TOP kept growing');
  t.true(g.bytesAtEnd <= 4 * 1024 * 1024, `the buffer is ${g.bytesAtEnd} bytes`);
});
