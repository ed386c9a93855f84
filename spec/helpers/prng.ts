/**
 * A small, fast, seeded pseudo-random number generator for tests.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's "Small Fast Counting" PRNG,
 * from PractRand), a 128-bit-state generator that passes PractRand and
 * BigCrush. The 32-bit seed is expanded into the four state words with
 * splitmix32, so nearby seeds (1, 2, 3, ...) give unrelated streams.
 *
 * It is NOT cryptographically secure; it exists so that randomized tests are
 * replayable: every test logs its seed, and running the suite again with
 * `FLATSHARE_SEED=<seed>` reproduces the same sequence of choices.
 */

import { randomInt } from 'node:crypto';

/** 2^32, the number of distinct uint32 values. */
const UINT32_RANGE = 0x1_0000_0000;

/** Outputs thrown away after seeding so the state is well mixed. */
const WARMUP_ROUNDS = 12;

/** splitmix32 increment (the 32-bit golden ratio). */
const SPLITMIX_GAMMA = 0x9e3779b9;

/** One step of splitmix32: returns [output, next seed state]. */
export function splitmix32(state: number): [number, number] {
  const next = (state + SPLITMIX_GAMMA) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, next];
}

/** Seeded sfc32 generator. Same seed, same sequence, on every platform. */
export class SeededPrng {
  /** The seed this generator was built from (normalized to uint32). */
  readonly seed: number;
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** @param seed any finite number; it is reduced to a uint32 (`seed >>> 0`). */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new RangeError(`SeededPrng: seed must be a finite number, got ${String(seed)}`);
    }
    this.seed = seed >>> 0;
    let s = this.seed;
    let out: number;
    [out, s] = splitmix32(s);
    this.a = out;
    [out, s] = splitmix32(s);
    this.b = out;
    [out, s] = splitmix32(s);
    this.c = out;
    [out, s] = splitmix32(s);
    this.d = out;
    for (let i = 0; i < WARMUP_ROUNDS; i++) this.next();
  }

  /** Next uint32, uniformly distributed in [0, 2^32). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  float(): number {
    return this.next() / UINT32_RANGE;
  }

  /**
   * Uniform integer in [lo, hi): `lo` is INCLUSIVE, `hi` is EXCLUSIVE.
   * Both must be safe integers with `lo < hi` and `hi - lo <= 2^32`.
   */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi <= lo) {
      throw new RangeError(`SeededPrng.int: need integers lo < hi, got [${lo}, ${hi})`);
    }
    const range = hi - lo;
    if (range > UINT32_RANGE) {
      throw new RangeError(`SeededPrng.int: range ${range} exceeds 2^32`);
    }
    return lo + Math.floor(this.float() * range);
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(arr: readonly T[]): T {
    if (arr.length === 0) throw new RangeError('SeededPrng.pick: empty array');
    return arr[this.int(0, arr.length)] as T;
  }

  /** True with probability `p` (0 <= p <= 1). */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /**
   * The seed to use for a randomized test: `Number(process.env[name])` when
   * that variable is set (it must be a finite integer), otherwise a fresh
   * random uint32. Tests should log the value so a failure can be replayed
   * with `FLATSHARE_SEED=<seed> npx ava ...`.
   */
  static seedFromEnv(name = 'FLATSHARE_SEED'): number {
    const raw = process.env[name];
    if (raw !== undefined && raw.trim() !== '') {
      const seed = Number(raw);
      if (!Number.isSafeInteger(seed)) {
        throw new RangeError(`${name}=${raw} is not an integer seed`);
      }
      return seed;
    }
    return randomInt(0, UINT32_RANGE);
  }
}
