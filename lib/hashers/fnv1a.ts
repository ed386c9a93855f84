import type { Hasher, SyncHasherFactory } from './hasher.js';
import { fmix32 } from './murmur3.js';

/**
 * FNV-1a (32-bit) over the UTF-16 code units of a string, one code unit per
 * step, followed by murmur3's fmix32 finalizer. Plain FNV-1a mixes the last
 * characters poorly into the TOP bits, which are the bits the table uses for
 * the home slot (table.ts), so the finalizer is needed; int32 keys go straight
 * to fmix32 as with murmur3. Constants: the FNV offset basis and prime
 * (Fowler, Noll, Vo; public domain).
 */
const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export function fnv1aString(key: string, seed: number): number {
  let h = FNV_OFFSET_BASIS ^ seed;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return fmix32(h);
}

export const FNV1A_NAME = 'fnv1a@1';

/** The FNV-1a hasher with a given seed. */
export class Fnv1aHasher implements Hasher {
  readonly id: string;
  readonly seed: number;
  constructor(seed = 0) {
    this.seed = seed | 0;
    this.id = `${FNV1A_NAME}:seed=${this.seed}`;
  }
  hashInt(key: number): number {
    return fmix32(key ^ this.seed);
  }
  hashString(key: string): number {
    return fnv1aString(key, this.seed);
  }
}

export const fnv1aFactory: SyncHasherFactory = {
  name: FNV1A_NAME,
  create: (seed) => new Fnv1aHasher(seed),
};
