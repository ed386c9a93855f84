import { FlatshareRangeError, FlatshareTypeError, ErrorCode, describe } from '../errors.js';
import type { Hasher, SyncHasherFactory } from './hasher.js';
import { Murmur3Hasher, murmur3Factory } from './murmur3.js';
import { Fnv1aHasher, fnv1aFactory } from './fnv1a.js';
import { xxhash32, xxhash64 } from './xxhash.js';

export type { Hasher, SyncHasherFactory } from './hasher.js';
export type { XXHashOptions } from './xxhash.js';

/** Synchronous built-in hashers, rebuilt by `attach` from the recorded id. */
const SYNC_FACTORIES: ReadonlyMap<string, SyncHasherFactory> = new Map([
  [murmur3Factory.name, murmur3Factory],
  [fnv1aFactory.name, fnv1aFactory],
]);

/** Built-in hashers. `hashers.default` is murmur3 with seed 0. */
export const hashers = {
  /** The default hasher: murmur3 (fmix32 for int32 keys), seed 0. */
  default: new Murmur3Hasher(0) as Hasher,
  /** murmur3 with a chosen seed. Synchronous, so `attach` rebuilds it by itself. */
  murmur3(options: { seed?: number } = {}): Hasher {
    return new Murmur3Hasher(options.seed ?? 0);
  },
  /** FNV-1a over code units plus the fmix32 finalizer, with a chosen seed. Synchronous, so `attach` rebuilds it. */
  fnv1a(options: { seed?: number } = {}): Hasher {
    return new Fnv1aHasher(options.seed ?? 0);
  },
  /** xxHash32 from xxhash-wasm. Async; pass it to `attach` in every thread. */
  xxhash32,
  /** xxHash64 (low 32 bits) from xxhash-wasm. Async; pass it to `attach` in every thread. */
  xxhash64,
};

/** Split `name:seed=N` ids; returns undefined for ids not of that form. */
function parseId(id: string): { name: string; seed: number } | undefined {
  const match = /^(.+):seed=(-?\d+)$/.exec(id);
  if (!match) return undefined;
  return { name: match[1] as string, seed: Number(match[2]) };
}

/** Rebuild a synchronous built-in hasher from its id, or undefined if it is not one. */
export function rebuildHasher(id: string): Hasher | undefined {
  const parsed = parseId(id);
  if (!parsed) return undefined;
  const factory = SYNC_FACTORIES.get(parsed.name);
  const hasher = factory?.create(parsed.seed);
  return hasher && hasher.id === id ? hasher : undefined;
}

/** Check that `value` looks like a Hasher; throws ERR_FLATSHARE_OPTIONS otherwise. */
export function validateHasher(value: unknown, parameter: string): Hasher {
  const h = value as Partial<Hasher> | null;
  if (
    typeof h !== 'object' ||
    h === null ||
    typeof h.id !== 'string' ||
    typeof h.hashInt !== 'function' ||
    typeof h.hashString !== 'function' ||
    typeof h.seed !== 'number'
  ) {
    throw new FlatshareTypeError(
      ErrorCode.OPTIONS,
      `${parameter} must be a Hasher object with id, seed, hashInt and hashString; got ${describe(value)}`,
    );
  }
  if (h.id.length === 0) {
    throw new FlatshareRangeError(ErrorCode.OPTIONS, `${parameter}.id must not be empty`);
  }
  return h as Hasher;
}
