/**
 * Seeded key generation for the benchmarks. sfc32 seeded through splitmix32
 * (the same generator as spec/helpers/prng.ts, kept separate so the
 * benchmarks do not depend on test helpers). Same seed, same keys.
 */

const SPLITMIX_GAMMA = 0x9e3779b9;
const WARMUP_ROUNDS = 12;

function splitmix32(state: number): [number, number] {
  const next = (state + SPLITMIX_GAMMA) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, next];
}

export class Prng {
  readonly seed: number;
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    let s = this.seed;
    let out: number;
    [out, s] = splitmix32(s);
    this.a = out;
    [out, s] = splitmix32(s);
    this.b = out;
    [out, s] = splitmix32(s);
    this.c = out;
    [out] = splitmix32(s);
    this.d = out;
    for (let i = 0; i < WARMUP_ROUNDS; i++) this.next();
  }

  /** Next uint32. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform int32 (any of the 2^32 values). */
  int32(): number {
    return this.next() | 0;
  }

  /** Uniform integer in [0, n), n <= 2^32. */
  below(n: number): number {
    return Math.floor((this.next() / 0x1_0000_0000) * n);
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
