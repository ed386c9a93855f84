/**
 * Seeded key generation for the benchmarks, on the generator the tests use
 * (spec/helpers/prng.ts: sfc32 seeded through splitmix32), so there is one
 * implementation to keep correct. Same seed, same keys.
 */
import { SeededPrng, splitmix32 } from '../spec/helpers/prng.js';

export class Prng extends SeededPrng {
  /** Uniform int32 (any of the 2^32 values). */
  int32(): number {
    return this.next() | 0;
  }

  /** Uniform integer in [0, n), n <= 2^32. */
  below(n: number): number {
    return this.int(0, n);
  }
}

/** Derive a per-case seed from the run seed and a label, so every case has its own stream. */
export function deriveSeed(runSeed: number, label: string): number {
  let h = runSeed >>> 0;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  }
  return splitmix32(h)[0];
}

/** `count` distinct random int32 keys, none of them in `exclude`. */
export function distinctKeys(prng: Prng, count: number, exclude?: ReadonlySet<number>): Int32Array {
  const seen = new Set<number>();
  const keys = new Int32Array(count);
  let n = 0;
  while (n < count) {
    const k = prng.int32();
    if (seen.has(k) || exclude?.has(k)) continue;
    seen.add(k);
    keys[n++] = k;
  }
  return keys;
}

/** `count` keys drawn uniformly, with replacement, from `from`. */
export function sampleKeys(prng: Prng, from: Int32Array, count: number): Int32Array {
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = from[prng.below(from.length)] as number;
  return out;
}

/** A shuffled copy of `keys` (Fisher-Yates). */
export function shuffled(prng: Prng, keys: Int32Array): Int32Array {
  const out = keys.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.below(i + 1);
    const t = out[i] as number;
    out[i] = out[j] as number;
    out[j] = t;
  }
  return out;
}
