/**
 * One table: a region of TABLE_HEADER_INTS words followed by `capacity` slots
 * of SLOT_INTS words, open addressing with linear probing.
 *
 * Home slot: the TOP log2(capacity) bits of the key's 32-bit hash
 * (`hash >>> shift`). Using the top bits (not `hash & mask`) keeps tables of
 * every size in the same hash order: slot i of a table of capacity C covers
 * hashes [i * 2^shift, (i+1) * 2^shift). Weakly consistent iteration relies on
 * this (iterator.ts).
 *
 * Probe sequence: home, home+1, ... wrapping at capacity. A probe for a key
 * stops at the key's slot or at the first EMPTY slot. Deletes leave TOMBSTONEs
 * that keep their key, so probe chains stay intact; migration drops them.
 */
import {
  H_TABLE_DESC,
  TABLE_DESC_BASE,
  TABLE_DESC_CAPACITY,
  TABLE_DESC_INTS,
  TABLE_HEADER_INTS,
  T_REMAINING,
  T_SIZE,
} from './layout.js';

/** Where the table of one generation lives, as one thread sees it. */
export interface TableInfo {
  /** Word index of the table region (its header). */
  base: number;
  /** Word index of slot 0. */
  slots: number;
  /** Slots, a power of two. */
  capacity: number;
  /** 32 - log2(capacity): home slot = hash >>> shift. */
  shift: number;
}

/** Word index of the descriptor of generation `gen`'s table. */
export function descriptorAt(gen: number): number {
  return H_TABLE_DESC + (gen & 1) * TABLE_DESC_INTS;
}

/** log2 of a power of two, subtracted from 32. */
export function shiftFor(capacity: number): number {
  return Math.clz32(capacity) + 1;
}

/** Read generation `gen`'s descriptor. Only meaningful while the epoch's generation is `gen` or `gen + 1`'s allocation is done. */
export function readTableInfo(words: Int32Array, gen: number): TableInfo {
  const desc = descriptorAt(gen);
  const base = Atomics.load(words, desc + TABLE_DESC_BASE);
  const capacity = Atomics.load(words, desc + TABLE_DESC_CAPACITY);
  return { base, slots: base + TABLE_HEADER_INTS, capacity, shift: shiftFor(capacity) };
}

/** Publish the descriptor of generation `gen`'s table (done before the epoch store that makes it visible). */
export function writeTableInfo(words: Int32Array, gen: number, base: number, capacity: number): void {
  const desc = descriptorAt(gen);
  Atomics.store(words, desc + TABLE_DESC_BASE, base);
  Atomics.store(words, desc + TABLE_DESC_CAPACITY, capacity);
}

/** Initialize a table region's header: entries already in it and inserts it still accepts. */
export function initTableHeader(words: Int32Array, base: number, size: number, remaining: number): void {
  Atomics.store(words, base + T_SIZE, size);
  Atomics.store(words, base + T_REMAINING, remaining);
}

/** True when the `words` view covers the whole table. */
export function viewCovers(words: Int32Array, info: TableInfo, slotInts: number): boolean {
  return info.capacity > 0 && info.slots + info.capacity * slotInts <= words.length && info.base >= 0;
}
