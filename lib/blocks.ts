/**
 * Reading and writing the payload of arena blocks (arena.ts) through one
 * thread's views of the shared buffer.
 *
 * Readers call the `read*` functions between the two loads of a bucket's SEQ
 * word: the block may be freed and reused under them, so every function here
 * bounds-checks the unvalidated header (arena.ts `payloadBytes`) and returns
 * TORN instead of throwing or reading out of range. The caller then fails its
 * validation (or, if validation passes, has found a bug).
 *
 * Memory ordering of payload bytes (see seqlock.ts for the bucket's own words):
 * - x86-64: plain loads of the bytes are kept in program order before the
 *   validating Atomics.load, as for the bucket's own META and lane words.
 * - Weakly ordered CPUs (ORDERED_PLAIN_LOADS false): a plain byte load could be
 *   performed after the validating load, so the payload words are first copied
 *   into a private scratch buffer with Atomics.load, one word at a time, and
 *   decoded from there (`blockEqualsPacked` compares the Atomics.load words
 *   directly, without a copy). Each Atomics.load is sequentially consistent
 *   and thus ordered before the validating load.
 * Writers fill a block before the bucket release that publishes its index, so a
 * reader that saw the index (after its first seq load) sees the bytes.
 */
import { BLOCK_HEADER_INTS, BLOCK_TAG_BITS, INT_BYTES, NULL_BLOCK, TAG_LATIN1 } from './layout.js';
import { headerTag, payloadBytes } from './arena.js';
import { ORDERED_PLAIN_LOADS, loadWord } from './seqlock.js';
import { PACKED_UNITS_PER_INT, readString, stringEquals, tailMask, writeString, type PackedKey } from './strings.js';

/** One thread's explicit-length views of the whole buffer, made together. */
export interface Views {
  words: Int32Array;
  bytes: Buffer;
  halves: Uint16Array;
}

/** Views of the buffer as long as it is now. */
export function makeViews(buffer: SharedArrayBuffer): Views {
  const ints = Math.floor(buffer.byteLength / INT_BYTES);
  return {
    words: new Int32Array(buffer, 0, ints),
    bytes: Buffer.from(buffer, 0, ints * INT_BYTES),
    halves: new Uint16Array(buffer, 0, ints * 2),
  };
}

/** Returned instead of a payload that failed its bounds check. */
export const TORN: unique symbol = Symbol('flatshare torn read');
export type Torn = typeof TORN;

/** Byte offset of a block's payload. */
export function payloadOffset(block: number): number {
  return (block + BLOCK_HEADER_INTS) * INT_BYTES;
}

// ---- strict-atomics scratch copy -------------------------------------------

let scratch: Views = scratchOf(new ArrayBuffer(256));

function scratchOf(buffer: ArrayBuffer): Views {
  return { words: new Int32Array(buffer), bytes: Buffer.from(buffer), halves: new Uint16Array(buffer) };
}

/** Copy a block's payload words with Atomics.load into the private scratch (strict path). */
function copyPayload(words: Int32Array, block: number, byteLength: number): Views {
  const ints = Math.ceil(byteLength / INT_BYTES);
  if (scratch.words.length < ints) scratch = scratchOf(new ArrayBuffer(2 ** Math.ceil(Math.log2(ints * INT_BYTES))));
  const target = scratch.words;
  const first = block + BLOCK_HEADER_INTS;
  for (let i = 0; i < ints; i++) target[i] = Atomics.load(words, first + i);
  return scratch;
}

// ---- readers (unvalidated) ---------------------------------------------------

/**
 * The header of `block`, read without validation and bounds-checked against
 * the view and `maxBytes` (arena.ts `payloadBytes`), or -1 when it fails
 * (a torn or reused read). Valid headers are never negative: the length is at
 * most MAX_VALUE_BYTES << BLOCK_TAG_BITS.
 */
function checkedHeader(words: Int32Array, block: number, maxBytes: number): number {
  if (block <= 0 || block >= words.length) return -1;
  const header = loadWord(words, block);
  return payloadBytes(words, block, header, maxBytes) < 0 ? -1 : header;
}

/**
 * Where to read the payload of `block` from: the shared views themselves on
 * x86 (plain loads stay ordered), or a private Atomics.load copy elsewhere.
 * The payload then starts at `payloadStart(block)` in the returned views.
 */
function payloadSource(v: Views, block: number, byteLength: number): Views {
  return ORDERED_PLAIN_LOADS ? v : copyPayload(v.words, block, byteLength);
}
function payloadStart(block: number): number {
  return ORDERED_PLAIN_LOADS ? payloadOffset(block) : 0;
}

/** Decode the string in `block`, or TORN. */
export function readBlockString(v: Views, block: number, maxBytes: number): string | Torn {
  const header = checkedHeader(v.words, block, maxBytes);
  if (header < 0) return TORN;
  const byteLength = header >>> BLOCK_TAG_BITS;
  const src = payloadSource(v, block, byteLength);
  return readString(src.bytes, src.halves, payloadStart(block), byteLength, headerTag(header));
}

/** A fresh copy of the bytes in `block`, or TORN. */
export function readBlockBytes(v: Views, block: number, maxBytes: number): Uint8Array | Torn {
  const header = checkedHeader(v.words, block, maxBytes);
  if (header < 0) return TORN;
  const byteLength = header >>> BLOCK_TAG_BITS;
  const start = payloadStart(block);
  // A copy (Buffer#slice would be a view of shared memory).
  return new Uint8Array(payloadSource(v, block, byteLength).bytes.subarray(start, start + byteLength));
}

/**
 * Compare the string key in `block` with `key`: 1 equal, 0 different, -1 TORN.
 * NULL_BLOCK is a tombstone whose key block was reclaimed (reclaimTombstoneKeys
 * in shared-flat-map.ts): it holds no key, so it equals none (0), and a probe
 * steps past it.
 */
export function blockEqualsString(v: Views, block: number, key: string, maxBytes: number): number {
  if (block === NULL_BLOCK) return 0;
  const header = checkedHeader(v.words, block, maxBytes);
  if (header < 0) return -1;
  const byteLength = header >>> BLOCK_TAG_BITS;
  const src = payloadSource(v, block, byteLength);
  return stringEquals(src.bytes, src.halves, payloadStart(block), byteLength, headerTag(header), key) ? 1 : 0;
}

/**
 * Compare the key block `block` with a key of `n` code units, all <= 0xFF,
 * packed in `key` (strings.ts PackedKey; little-endian CPUs only): 1 equal,
 * 0 different, -1 TORN (retry). One header compare replaces the length and
 * tag checks (a key in the one-byte form has exactly the header
 * `n << BLOCK_TAG_BITS | TAG_LATIN1`), then one 32-bit load per 4 units.
 *
 * Untrusted words: the header is read only inside the view; a header other
 * than the expected one means another key (or a torn read, which validation
 * catches), so no payload is read; with the expected header the payload words
 * are read only when the whole payload is inside the view, else -1, so the
 * caller refreshes its views (a block allocated after the buffer grew).
 */
export function blockEqualsPacked(words: Int32Array, block: number, key: PackedKey, n: number): number {
  if (block === NULL_BLOCK) return 0; // a reclaimed tombstone's key: equals none (blockEqualsString)
  if (block < NULL_BLOCK || block >= words.length) return -1;
  const first = block + BLOCK_HEADER_INTS;
  const full = n >>> 2; // whole words; a partial word follows when n % 4 !== 0
  const last = first + full;
  const end = first + Math.ceil(n / PACKED_UNITS_PER_INT); // one past the payload
  const packed = key.words;
  if (ORDERED_PLAIN_LOADS) {
    if ((words[block] as number) !== ((n << BLOCK_TAG_BITS) | TAG_LATIN1)) return 0;
    if (end > words.length) return -1;
    for (let j = 0; j < full; j++) if (words[first + j] !== packed[j]) return 0;
    if ((n & (PACKED_UNITS_PER_INT - 1)) === 0) return 1;
    return ((words[last] as number) & tailMask(n)) === packed[full] ? 1 : 0;
  }
  if (Atomics.load(words, block) !== ((n << BLOCK_TAG_BITS) | TAG_LATIN1)) return 0;
  if (end > words.length) return -1;
  for (let j = 0; j < full; j++) if (Atomics.load(words, first + j) !== packed[j]) return 0;
  if ((n & (PACKED_UNITS_PER_INT - 1)) === 0) return 1;
  return (Atomics.load(words, last) & tailMask(n)) === packed[full] ? 1 : 0;
}

// ---- writers (block allocated, not yet published) ------------------------------

/** Write a string payload into a freshly allocated block. */
export function writeBlockString(v: Views, block: number, s: string, tag: number): void {
  writeString(v.bytes, v.halves, payloadOffset(block), s, tag);
}

/**
 * Write a key of `n` code units, all <= 0xFF, packed in `key` (strings.ts
 * PackedKey, little-endian CPUs) into a freshly allocated TAG_LATIN1 block:
 * one word store per 4 units, the last word zero-padded as murmur3StringPacked
 * left it. The caller's `words` view covers the block (allocateBlock refreshed it).
 */
export function writeBlockPacked(words: Int32Array, block: number, key: PackedKey, n: number): void {
  const first = block + BLOCK_HEADER_INTS;
  const count = Math.ceil(n / PACKED_UNITS_PER_INT);
  const packed = key.words;
  for (let j = 0; j < count; j++) words[first + j] = packed[j] as number;
}

/** Write raw bytes into a freshly allocated block (tag TAG_BYTES). */
export function writeBlockBytes(v: Views, block: number, raw: Uint8Array): void {
  v.bytes.set(raw, payloadOffset(block));
}

