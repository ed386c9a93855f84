/**
 * The Hasher interface. A hasher turns a key into a 32-bit hash. The map
 * stores the hasher's `id` in its header; every thread that attaches the map
 * must hash with a hasher of the same id, or lookups would probe the wrong
 * slots. `attach` therefore refuses a hasher whose id differs.
 */
export interface Hasher {
  /**
   * Stable identity: algorithm name, version and seed, e.g. `murmur3@1:seed=0`.
   * Two hashers with equal ids must return equal hashes for equal keys, in
   * every thread and every process. At most 64 UTF-8 bytes.
   */
  readonly id: string;
  /** The seed, recorded in the map header. */
  readonly seed: number;
  /** Hash of an int32 key. Must return an int32 (use `| 0`). */
  hashInt(key: number): number;
  /** Hash of a string key. Must return an int32 (use `| 0`). */
  hashString(key: string): number;
}

/**
 * A synchronous built-in hasher family: `attach` rebuilds it from the name
 * and seed recorded in the header, so a worker needs no hasher argument.
 */
export interface SyncHasherFactory {
  readonly name: string;
  create(seed: number): Hasher;
}
