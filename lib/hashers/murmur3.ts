import type { Hasher, SyncHasherFactory } from './hasher.js';
import { PACKED_UNITS_PER_INT, type PackedKey } from '../strings.js';

/**
 * murmur3's 32-bit finalizer (fmix32): a bijection on 32-bit integers with
 * full avalanche, so the top bits used as the table's home index depend on
 * every key bit. Constants from Austin Appleby's MurmurHash3 (public domain).
 */
export const FMIX_C1 = 0x85ebca6b;
export const FMIX_C2 = 0xc2b2ae35;
export const FMIX_SHIFT_1 = 16;
export const FMIX_SHIFT_2 = 13;
export const FMIX_SHIFT_3 = 16;

export function fmix32(h: number): number {
  // The constants as literals: V8 11.3's optimized code loads a module-level
  // const from its context on every call, and fmix32 runs on every int32 get
  // (docs/design.md §4). spec/unit/inlined-constants.test.ts checks each mark.
  h ^= h >>> /* FMIX_SHIFT_1 */ 16;
  h = Math.imul(h, /* FMIX_C1 */ 0x85ebca6b);
  h ^= h >>> /* FMIX_SHIFT_2 */ 13;
  h = Math.imul(h, /* FMIX_C2 */ 0xc2b2ae35);
  h ^= h >>> /* FMIX_SHIFT_3 */ 16;
  return h | 0;
}

/** Per-block constants of MurmurHash3_x86_32. */
const M3_C1 = 0xcc9e2d51;
const M3_C2 = 0x1b873593;
const M3_R1 = 15;
const M3_R2 = 13;
const M3_M = 5;
const M3_N = 0xe6546b64;

/** One 32-bit block of MurmurHash3_x86_32: the block's scrambled value `k` (also used alone for the tail). */
function scramble(k: number): number {
  k = Math.imul(k, M3_C1);
  k = (k << M3_R1) | (k >>> (32 - M3_R1));
  return Math.imul(k, M3_C2);
}

/** Mix one full block into the running hash. */
function mixBlock(h: number, k: number): number {
  h ^= scramble(k);
  h = (h << M3_R2) | (h >>> (32 - M3_R2));
  return (Math.imul(h, M3_M) + M3_N) | 0;
}

/**
 * MurmurHash3_x86_32 over the UTF-16 code units of a string, two code units
 * per 32-bit block. Hashing code units (not UTF-8 bytes) skips the encoding
 * step; the hash is still a pure function of the string.
 */
export function murmur3String(key: string, seed: number): number {
  let h = seed | 0;
  const n = key.length;
  const pairs = n & ~1;
  for (let i = 0; i < pairs; i += 2) {
    let k = key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16);
    k = Math.imul(k, M3_C1);
    k = (k << M3_R1) | (k >>> (32 - M3_R1));
    k = Math.imul(k, M3_C2);
    h ^= k;
    h = (h << M3_R2) | (h >>> (32 - M3_R2));
    h = (Math.imul(h, M3_M) + M3_N) | 0;
  }
  if (n & 1) {
    let k = key.charCodeAt(n - 1);
    k = Math.imul(k, M3_C1);
    k = (k << M3_R1) | (k >>> (32 - M3_R1));
    k = Math.imul(k, M3_C2);
    h ^= k;
  }
  h ^= n * 2; // length in bytes, as the reference implementation does
  return fmix32(h);
}

/**
 * `murmur3String(key, seed)`, and in the same pass over the code units the
 * key's packed one-byte form into `out` (strings.ts `PackedKey`, what
 * `packLatin1` computes), so the string-key read path reads each code unit of
 * the key once. `key.length` must be at most strings.ts PACKED_KEY_MAX_UNITS.
 */
export function murmur3StringPacked(key: string, seed: number, out: PackedKey): number {
  let h = seed | 0;
  const n = key.length;
  const words = out.words;
  let units = 0;
  let i = 0;
  for (; i + PACKED_UNITS_PER_INT <= n; i += PACKED_UNITS_PER_INT) {
    const c0 = key.charCodeAt(i);
    const c1 = key.charCodeAt(i + 1);
    const c2 = key.charCodeAt(i + 2);
    const c3 = key.charCodeAt(i + 3);
    units |= c0 | c1 | c2 | c3;
    words[i >>> 2] = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
    h = mixBlock(h, c0 | (c1 << 16));
    h = mixBlock(h, c2 | (c3 << 16));
  }
  if (i < n) {
    // 1-3 units left: at most one more full block, then at most one odd unit.
    let tail = 0;
    if (i + 2 <= n) {
      const c0 = key.charCodeAt(i);
      const c1 = key.charCodeAt(i + 1);
      units |= c0 | c1;
      tail = c0 | (c1 << 8);
      h = mixBlock(h, c0 | (c1 << 16));
      i += 2;
    }
    if (i < n) {
      const c = key.charCodeAt(i);
      units |= c;
      tail |= c << ((i & (PACKED_UNITS_PER_INT - 1)) * 8);
      h ^= scramble(c);
    }
    words[n >>> 2] = tail;
  }
  out.unitsOr = units;
  h ^= n * 2;
  return fmix32(h);
}

/** The murmur3 hasher with a given seed. */
export class Murmur3Hasher implements Hasher {
  readonly id: string;
  readonly seed: number;
  constructor(seed = 0) {
    this.seed = seed | 0;
    this.id = `${MURMUR3_NAME}:seed=${this.seed}`;
  }
  hashInt(key: number): number {
    return fmix32(key ^ this.seed);
  }
  hashString(key: string): number {
    return murmur3String(key, this.seed);
  }
}

export const MURMUR3_NAME = 'murmur3@1';

/**
 * True when `hasher` hashes int32 keys exactly as `fmix32(key ^ hasher.seed)`:
 * a Murmur3Hasher itself (not a subclass, whose hashInt could differ) with
 * the prototype's hashInt. The map's int32 read path then calls fmix32
 * directly instead of going through the hasher object.
 */
export function isBuiltInMurmur3(hasher: unknown): boolean {
  return (
    hasher instanceof Murmur3Hasher &&
    Object.getPrototypeOf(hasher) === Murmur3Hasher.prototype &&
    !Object.prototype.hasOwnProperty.call(hasher, 'hashInt')
  );
}

export const murmur3Factory: SyncHasherFactory = {
  name: MURMUR3_NAME,
  create: (seed) => new Murmur3Hasher(seed),
};
