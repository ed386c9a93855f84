import xxhashWasm from 'xxhash-wasm';
import type { Hasher } from './hasher.js';

/**
 * xxHash32 / xxHash64 through xxhash-wasm. The WebAssembly module needs an
 * async instantiation in every thread, so these hashers come from async
 * factories and `attach` cannot rebuild them: pass the same hasher to
 * `SharedFlatMap.attach(handle, { hasher })` in each worker.
 */
type XXHashApi = Awaited<ReturnType<typeof xxhashWasm>>;

let api: Promise<XXHashApi> | undefined;
function loadApi(): Promise<XXHashApi> {
  api ??= xxhashWasm();
  return api;
}

const INT_KEY_BYTES = 4;
const LOW_32_BITS = 0xffffffffn;

export const XXHASH32_NAME = 'xxhash32@1';
export const XXHASH64_NAME = 'xxhash64@1';

class XXHash32Hasher implements Hasher {
  readonly id: string;
  readonly seed: number;
  private readonly scratch = new Uint8Array(INT_KEY_BYTES);
  private readonly scratchView = new DataView(this.scratch.buffer);
  constructor(private readonly x: XXHashApi, seed: number) {
    this.seed = seed | 0;
    this.id = `${XXHASH32_NAME}:seed=${this.seed}`;
  }
  hashInt(key: number): number {
    this.scratchView.setInt32(0, key, true);
    return this.x.h32Raw(this.scratch, this.seed >>> 0) | 0;
  }
  hashString(key: string): number {
    return this.x.h32(key, this.seed >>> 0) | 0;
  }
}

class XXHash64Hasher implements Hasher {
  readonly id: string;
  readonly seed: number;
  private readonly scratch = new Uint8Array(INT_KEY_BYTES);
  private readonly scratchView = new DataView(this.scratch.buffer);
  constructor(private readonly x: XXHashApi, seed: number) {
    this.seed = seed | 0;
    this.id = `${XXHASH64_NAME}:seed=${this.seed}`;
  }
  hashInt(key: number): number {
    this.scratchView.setInt32(0, key, true);
    return Number(this.x.h64Raw(this.scratch, BigInt(this.seed >>> 0)) & LOW_32_BITS) | 0;
  }
  hashString(key: string): number {
    return Number(this.x.h64(key, BigInt(this.seed >>> 0)) & LOW_32_BITS) | 0;
  }
}

/** Options of the async hasher factories. */
export interface XXHashOptions {
  /** Seed, an int32 (default 0). */
  seed?: number;
}

/** Create an xxHash32 hasher (async: instantiates WebAssembly once per thread). */
export async function xxhash32(options: XXHashOptions = {}): Promise<Hasher> {
  return new XXHash32Hasher(await loadApi(), options.seed ?? 0);
}

/** Create an xxHash64 hasher (low 32 bits of the 64-bit hash). */
export async function xxhash64(options: XXHashOptions = {}): Promise<Hasher> {
  return new XXHash64Hasher(await loadApi(), options.seed ?? 0);
}
