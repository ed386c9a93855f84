/**
 * Shared pieces of the tests of lib/wasm/*.wat: the committed-bytes check, the
 * `;; const NAME = value` declarations a .wat was written for, the module's
 * imports and exports, the lane lookups of a key in a map's current table, and
 * a string key packed as the wasm string functions take it.
 */
import type { ExecutionContext } from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SharedFlatMap, hashers } from '../../lib/index.js';
import { B_META, LANE_EMPTY, bucketAt, laneState, laneWordOffset, type LaneState } from '../../lib/bucket.js';
import { murmur3StringPacked } from '../../lib/hashers/murmur3.js';
import { BLOCK_TAG_BITS, TAG_LATIN1 } from '../../lib/layout.js';
import { PackedKey } from '../../lib/strings.js';
import type { PackedKeyArgs } from '../../lib/wasm/bucket-read-path.js';
import { repoRoot } from '../package/support.js';
import { int32KeyLane, type LaneAt } from './slots.js';

/** lib/wasm/<name>.wat, as committed. */
export function readWat(name: string): string {
  return readFileSync(join(repoRoot, 'lib', 'wasm', `${name}.wat`), 'utf8');
}

/**
 * The committed lib/wasm/<name>.wasm.ts must be exactly what
 * scripts/build-wasm.mjs assembles for it (`base64`: its WASM_BASE64): from
 * lib/wasm/<name>.wat, or, for a module in the script's DERIVED table, from
 * that entry's .wat through its transform. Returns the .wat text assembled.
 */
export async function assertAssembledFromWat(t: ExecutionContext, name: string, base64: string): Promise<string> {
  const script = pathToFileURL(join(repoRoot, 'scripts', 'build-wasm.mjs')).href;
  const { assemble, tsModule, DERIVED } = (await import(script)) as {
    assemble: (path: string, transform?: (wat: string) => string) => Promise<Buffer>;
    tsModule: (name: string, bytes: Buffer, from?: string) => string;
    DERIVED: Record<string, { from: string; transform: (wat: string) => string }>;
  };
  const { from, transform } = DERIVED[name] ?? { from: name, transform: (wat: string) => wat };
  const bytes = await assemble(join(repoRoot, 'lib', 'wasm', `${from}.wat`), transform);
  t.is(base64, bytes.toString('base64'), `stale lib/wasm/${name}.wasm.ts: run npm run build:wasm`);
  t.is(readFileSync(join(repoRoot, 'lib', 'wasm', `${name}.wasm.ts`), 'utf8'), tsModule(name, bytes, from));
  return transform(readWat(from));
}

/** The `;; const NAME = value` lines of a .wat, as an object (NAME: value). */
export function declaredConstants(wat: string): Record<string, number> {
  const declared: Record<string, number> = {};
  for (const m of wat.matchAll(/^;; const ([A-Z_0-9]+) = (-?\d+)/gm)) declared[m[1] as string] = Number(m[2]);
  return declared;
}

/** The .wat without its comments (what the assembler reads). */
export function watCode(wat: string): string {
  return wat.replace(/;;.*$/gm, '');
}

/** A compiled module's imports, and its export names in declaration order. */
export function moduleInterface(module: unknown): { imports: unknown; exports: string[] } {
  const api = (globalThis as unknown as { WebAssembly: { Module: { imports(m: unknown): unknown; exports(m: unknown): unknown } } })
    .WebAssembly.Module;
  return { imports: api.imports(module), exports: (api.exports(module) as { name: string }[]).map((e) => e.name) };
}

/** The only import every flatshare module has: the map's memory. */
export const MEMORY_IMPORT = [{ module: 'env', name: 'memory', kind: 'memory' }];

/**
 * The bucket (SEQ word index) and lane of int32 `key` in a map hashed by the
 * default murmur3, or the bucket where its chain ends (lane -1).
 */
export function int32LaneOf(map: SharedFlatMap<number, number>, key: number): LaneAt {
  const { words, table, g } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  return int32KeyLane(words, table, g, hashers.default.hashInt(key), key);
}

/**
 * Every lane of the map's current table whose column 0 is `column0` (an int32
 * key, or a string key's HASH) and whose state passes `accept` (default: FULL
 * or TOMBSTONE), in bucket order; read with Atomics.load.
 */
export function lanesWith(
  map: SharedFlatMap<unknown, unknown>,
  column0: number,
  accept: (state: LaneState) => boolean = (state) => state !== LANE_EMPTY,
): LaneAt[] {
  const { words, table, g } = SharedFlatMap.unsafeExposeInternals(map);
  const found: LaneAt[] = [];
  for (let b = 0; b < table.buckets; b++) {
    const at = bucketAt(table.first, b);
    const meta = Atomics.load(words, at + B_META);
    for (let lane = 0; lane < g.lanes; lane++) {
      if (accept(laneState(meta, lane)) && Atomics.load(words, at + laneWordOffset(g, 0, lane)) === column0) found.push({ at, lane });
    }
  }
  return found;
}

/**
 * A string key of at most KEY_MAX_UNITS one-byte units as every wasm
 * string-key function takes it: its murmur3 hash (seed `seed`), its key block
 * header and its packed words, as SharedFlatMap packs them.
 */
export function packedKeyArgs(key: string, seed = 0): PackedKeyArgs {
  const packed = new PackedKey();
  const hash = murmur3StringPacked(key, seed, packed);
  const w = packed.words;
  return [hash, (key.length << BLOCK_TAG_BITS) | TAG_LATIN1, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!];
}
