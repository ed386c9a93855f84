/**
 * Key types of the multi-worker benchmarks. Every case starts from distinct
 * random int32 keys (prng.ts); a key type turns them into the keys the maps
 * see. Adding a key type is one more entry in KEY_TYPES plus a branch in
 * `materializeKeys`.
 *
 * flatshare support is detected, not assumed: `flatshareSupport` tries to
 * create a map of that key type and reports ERR_FLATSHARE_UNSUPPORTED as
 * "not yet supported", so a key type lights up once the library implements it.
 */
import { ErrorCode, SharedFlatMap } from '../lib/index.js';

export const KEY_TYPES = ['int32', 'string'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export type Key = number | string;
/** The keys of one case as a worker holds them: an Int32Array (int32) or an array of 16-char strings. */
export type KeyArray = Int32Array | string[];

export const STRING_KEY_CHARS = 16;

/**
 * A 16-character ASCII key for an int32 key: `key:` + 8 hex digits + `:` + the
 * first 3 hex digits again. Injective (the 8 hex digits are the whole key).
 */
export function stringKey(k: number): string {
  const hex = (k >>> 0).toString(16).padStart(8, '0');
  return `key:${hex}:${hex.slice(0, 3)}`;
}

/**
 * A flat (sequential, one-byte) copy of an ASCII / Latin-1 string. A template
 * literal of 13 or more characters is a cons string in V8, which every read
 * of its characters (and `Map`'s first hash of it) follows through one more
 * object; keys a program reads from a file or a socket are flat.
 */
function flat(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

/** The string keys (`stringKey`) of `ints`, each flat: what the single-thread string benchmarks look up. */
export function flatStringKeys(ints: Int32Array): string[] {
  const out = new Array<string>(ints.length);
  for (let i = 0; i < ints.length; i++) out[i] = flat(stringKey(ints[i] as number));
  return out;
}

export function materializeKeys(keyType: KeyType, ints: Int32Array): KeyArray {
  switch (keyType) {
    case 'int32':
      return ints.slice();
    case 'string': {
      const out = new Array<string>(ints.length);
      for (let i = 0; i < ints.length; i++) out[i] = stringKey(ints[i] as number);
      return out;
    }
  }
}

/** Keys at the given indices (lookup arrays). */
export function pickKeys(keys: KeyArray, indices: Int32Array): KeyArray {
  if (keys instanceof Int32Array) {
    const out = new Int32Array(indices.length);
    for (let i = 0; i < indices.length; i++) out[i] = keys[indices[i] as number] as number;
    return out;
  }
  const out = new Array<string>(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = keys[indices[i] as number] as string;
  return out;
}

export type Support = { ok: true } | { ok: false; reason: string };

/** Can this build of flatshare make a map with these keys (and int32 values)? */
export function flatshareSupport(keyType: KeyType): Support {
  try {
    new SharedFlatMap<Key, number>({ keys: keyType, values: 'int32', capacity: 16, maxBytes: 1 << 20 });
    return { ok: true };
  } catch (error) {
    if ((error as { code?: unknown }).code === ErrorCode.UNSUPPORTED) {
      return { ok: false, reason: `not yet supported: ${(error as Error).message}` };
    }
    throw error;
  }
}
