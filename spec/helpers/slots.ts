/**
 * Where an int32 key lives in a table, for white-box tests and their workers:
 * the linear probe of lib/table.ts (home slot, then the next slot, wrapping
 * from the last one to slot 0), read with Atomics.load.
 */
import { S_KEY } from '../../lib/layout.js';
import { EMPTY, STATE_MASK } from '../../lib/seqlock.js';
import { homeSlot, type TableInfo } from '../../lib/table.js';

/**
 * Seq word index of the slot that holds `key` (FULL or TOMBSTONE), or of the
 * EMPTY slot where its probe ends. `hash` is the map's hash of `key`;
 * `slotInts` its words per slot. The table must have an EMPTY slot (every
 * live table does), or this never returns for an absent key.
 */
export function int32KeySlot(words: Int32Array, table: TableInfo, slotInts: number, hash: number, key: number): number {
  for (let slot = homeSlot(hash, table.capacity); ; slot = slot + 1 === table.capacity ? 0 : slot + 1) {
    const at = table.slots + slot * slotInts;
    if ((Atomics.load(words, at) & STATE_MASK) === EMPTY || Atomics.load(words, at + S_KEY) === key) return at;
  }
}
