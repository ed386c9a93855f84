/**
 * Online resize: copy table g into a new region and flip the epoch to g+1.
 *
 * Protocol (phases of the epoch word, see epoch.ts):
 * 1. A writer that finds no insert budget left in table g CASes the epoch
 *    STABLE(g) -> ALLOCATING(g). Only that writer proceeds; others wait.
 * 2. It sizes the new table from the live count (twice the live entries, at
 *    least the initial capacity, so a table full of tombstones is rehashed at
 *    the same size), takes a retired region that no writer can still be in or
 *    bump-allocates one (growing the buffer), zeroes a reused region, writes
 *    TABLE_DESC[(g+1) & 1], resets the migration counters and stores
 *    COPYING(g). If the allocation fails it restores STABLE(g) and throws
 *    ERR_FLATSHARE_FULL: nothing changed.
 * 3. Every writer that sees COPYING(g) helps: it claims chunks of
 *    MIGRATION_CHUNK_SLOTS old slots by CAS on the tagged cursor, copies the
 *    FULL slots into the new table, and adds to MIG_COPIED and MIG_DONE.
 *    Copying reads an old slot only while it is unlocked. A writer that locked
 *    it before the phase left STABLE finishes first (it saw STABLE after its
 *    lock CAS, so the migrator's later load sees the lock or its release); a
 *    writer that locks it later sees the phase and backs out without writing.
 *    So table g is read-only from the moment copying can begin.
 * 4. The helper whose chunk brings MIG_DONE to the old capacity flips: it
 *    writes the new table's SIZE and REMAINING, records the old region as
 *    retired at g+1, stores STABLE(g+1) and notifies waiters.
 *
 * Readers are not involved: they keep reading table g until their generation
 * check sees g+1, then re-probe in table g+1.
 *
 * Invariants: the new table is written only by helpers, each slot claimed by
 * one CAS EMPTY -> FULL, and nobody reads it before the flip; every key of
 * table g appears exactly once in table g+1 (keys are unique in g, and each
 * old slot belongs to exactly one chunk).
 *
 * `clear()` is a migration that copies nothing: ALLOCATING(g), a fresh table
 * of the initial capacity, then STABLE(g+1) directly.
 */
import { LOCKED, STATE_MASK, FULL, EMPTY, released } from './seqlock.js';
import {
  PHASE_ALLOCATING,
  PHASE_COPYING,
  PHASE_STABLE,
  MIGRATION_CHUNK_SLOTS,
  CURSOR_TAG_MASK,
  cursorChunk,
  cursorTag,
  cursorWord,
  genOf,
  makeEpoch,
  phaseOf,
} from './epoch.js';
import {
  H_EPOCH,
  H_MIG_COPIED,
  H_MIG_CURSOR,
  H_MIG_DONE,
  CACHE_LINE_INTS,
  MAX_CAPACITY,
  T_SIZE,
  T_REMAINING,
  W_ACTIVE_GEN,
  capacityFor,
  insertBudget,
  tableRegionInts,
} from './layout.js';
import { FlatshareFullError } from './errors.js';
import { bumpAllocate, retireRegion, takeFreeRegion, type GrowableSharedArrayBuffer } from './memory.js';
import { initTableHeader, readTableInfo, writeTableInfo, type TableInfo } from './table.js';
import { backoff, waitWhileEqual } from './backoff.js';

/**
 * The new table holds GROWTH_FACTOR x the live entries within its insert
 * budget: a table full of live entries (live = 0.8 C) doubles to 2C, whose
 * budget is exactly 1.6 C; a table full of tombstones is rehashed at its own
 * size. (`2 * (live + 1)` overshot that budget by 2 and quadrupled full tables.)
 */
export const GROWTH_FACTOR = 2;

/** How long one Atomics.wait for an epoch change may last before re-checking, in ms. */
export const EPOCH_WAIT_MS = 5;

/** What migration needs from the map instance of the calling thread. */
export interface MigrationHost {
  readonly buffer: GrowableSharedArrayBuffer;
  readonly slotInts: number;
  readonly initialCapacity: number;
  /** This thread's writer record (word index). */
  readonly writerRecord: number;
  /** The current explicit-length view. */
  words(): Int32Array;
  /** Make a new view after the buffer grew; returns it. */
  refreshWords(): Int32Array;
  /** Hash of the key stored in the slot whose seq word is at `at`. */
  hashAt(words: Int32Array, at: number): number;
  /**
   * Called by the thread that flipped to `gen + 1`, right after the flip, with
   * the retired table (read-only and not yet reusable: this thread still
   * announces generation `gen`). Frees the arena blocks that only the retired
   * table referenced: tombstones' keys, and with `clear` every entry's blocks.
   * Absent for maps without arena blocks.
   */
  releaseRetired?(words: Int32Array, old: TableInfo, clear: boolean): void;
}

/**
 * Try to start a migration (or a clear) from the STABLE epoch `epoch`. Returns
 * when the caller should re-read the epoch: the migration it started (or that
 * somebody else started) is done or in progress. Throws FlatshareFullError
 * (map unchanged) when the new table does not fit in maxBytes.
 */
export function startMigration(host: MigrationHost, epoch: number, clear: boolean): void {
  let words = host.words();
  const gen = genOf(epoch);
  if (Atomics.compareExchange(words, H_EPOCH, epoch, makeEpoch(gen, PHASE_ALLOCATING)) !== epoch) return;
  let next: TableInfo;
  let old: TableInfo;
  try {
    old = readTableInfo(words, gen);
    const live = Atomics.load(words, old.base + T_SIZE);
    const wanted = clear
      ? host.initialCapacity
      : Math.max(host.initialCapacity, capacityFor(GROWTH_FACTOR * live));
    const usedSlots = insertBudget(old.capacity) - Atomics.load(words, old.base + T_REMAINING);
    const fallback = !clear && wanted > old.capacity && usedSlots > live ? old.capacity : 0;
    const base = allocateTable(host, wanted, fallback);
    words = host.refreshWords();
    const capacity = base.capacity;
    writeTableInfo(words, gen + 1, base.base, capacity);
    next = readTableInfo(words, gen + 1);
    if (clear) {
      initTableHeader(words, next.base, 0, insertBudget(capacity));
      flip(host, words, gen, old, 0, true);
      return;
    }
    initTableHeader(words, next.base, 0, 0);
    Atomics.store(words, H_MIG_COPIED, 0);
    Atomics.store(words, H_MIG_DONE, 0);
    Atomics.store(words, H_MIG_CURSOR, cursorWord(gen, 0));
  } catch (error) {
    Atomics.store(words, H_EPOCH, epoch);
    Atomics.notify(words, H_EPOCH);
    throw error;
  }
  // Publishes the new table's descriptor, its zeroed slots and the counters.
  Atomics.store(words, H_EPOCH, makeEpoch(gen, PHASE_COPYING));
  Atomics.notify(words, H_EPOCH);
  helpCopy(host, makeEpoch(gen, PHASE_COPYING));
}

/** Allocate and zero a table region of `capacity` slots, or of `fallback` slots if that fails. */
function allocateTable(host: MigrationHost, capacity: number, fallback: number): { base: number; capacity: number } {
  const words = host.words();
  for (const candidate of fallback > 0 ? [capacity, fallback] : [capacity]) {
    const ints = tableRegionInts(candidate, host.slotInts);
    const reused = candidate <= MAX_CAPACITY ? takeFreeRegion(words, ints) : -1;
    if (reused >= 0) {
      // Nobody can be in a reusable region; readers that still think so fail their generation check.
      host.refreshWords().fill(0, reused, reused + ints);
      return { base: reused, capacity: candidate };
    }
    try {
      if (candidate > MAX_CAPACITY) throw new FlatshareFullError(ints * Int32Array.BYTES_PER_ELEMENT, host.buffer.maxByteLength);
      return { base: bumpAllocate(words, host.buffer, ints, CACHE_LINE_INTS), capacity: candidate };
    } catch (error) {
      if (!(error instanceof FlatshareFullError) || candidate === fallback || fallback === 0) throw error;
    }
  }
  /* c8 ignore next */
  throw new Error('unreachable');
}

/**
 * Help the migration announced by `epoch` (phase COPYING) or wait for the one
 * being allocated, then return once the generation has moved on.
 */
export function helpOrWait(host: MigrationHost, epoch: number): void {
  if (phaseOf(epoch) === PHASE_COPYING) helpCopy(host, epoch);
  const words = host.words();
  while (Atomics.load(words, H_EPOCH) === epoch) waitWhileEqual(words, H_EPOCH, epoch, EPOCH_WAIT_MS);
}

function helpCopy(host: MigrationHost, epoch: number): void {
  let words = host.words();
  const gen = genOf(epoch);
  Atomics.store(words, host.writerRecord + W_ACTIVE_GEN, gen + 1);
  if (Atomics.load(words, H_EPOCH) !== epoch) return;
  const old = readTableInfo(words, gen);
  const next = readTableInfo(words, gen + 1);
  if (next.slots + next.capacity * host.slotInts > words.length) words = host.refreshWords();
  const chunks = Math.ceil(old.capacity / MIGRATION_CHUNK_SLOTS);
  const tag = gen & CURSOR_TAG_MASK;
  for (;;) {
    const cursor = Atomics.load(words, H_MIG_CURSOR);
    const chunk = cursorChunk(cursor);
    if (cursorTag(cursor) !== tag || chunk >= chunks) return;
    if (Atomics.compareExchange(words, H_MIG_CURSOR, cursor, cursor + 1) !== cursor) continue;
    const first = chunk * MIGRATION_CHUNK_SLOTS;
    const end = Math.min(old.capacity, first + MIGRATION_CHUNK_SLOTS);
    let copied = 0;
    for (let i = first; i < end; i++) copied += copySlot(host, words, old, next, i);
    Atomics.add(words, H_MIG_COPIED, copied);
    const done = Atomics.add(words, H_MIG_DONE, end - first) + (end - first);
    if (done === old.capacity) {
      flip(host, words, gen, old, Atomics.load(words, H_MIG_COPIED), false);
      return;
    }
  }
}

/** Copy old slot `i` into the new table if it is FULL; returns 1 if it copied an entry. */
function copySlot(host: MigrationHost, words: Int32Array, old: TableInfo, next: TableInfo, i: number): number {
  const stride = host.slotInts;
  const at = old.slots + i * stride;
  let seq = Atomics.load(words, at);
  for (let attempt = 0; (seq & LOCKED) !== 0; attempt++) {
    backoff(attempt);
    seq = Atomics.load(words, at);
  }
  if ((seq & STATE_MASK) !== FULL) return 0;
  const mask = next.capacity - 1;
  let slot = host.hashAt(words, at) >>> next.shift;
  for (;;) {
    const target = next.slots + slot * stride;
    if (Atomics.compareExchange(words, target, EMPTY, released(EMPTY, FULL)) === EMPTY) {
      // Plain stores: nobody reads table g+1 before the flip, which publishes them.
      for (let w = 1; w < stride; w++) words[target + w] = Atomics.load(words, at + w);
      return 1;
    }
    slot = (slot + 1) & mask;
  }
}

/** Make table gen+1 current. The caller completed the last chunk (or is clearing). */
function flip(host: MigrationHost, words: Int32Array, gen: number, old: TableInfo, copied: number, clear: boolean): void {
  const next = readTableInfo(words, gen + 1);
  initTableHeader(words, next.base, copied, insertBudget(next.capacity) - copied);
  retireRegion(words, old.base, tableRegionInts(old.capacity, host.slotInts), gen + 1);
  // Tombstones in table g: slots ever filled minus the FULL ones just copied.
  const tombstones = insertBudget(old.capacity) - Atomics.load(words, old.base + T_REMAINING) - copied;
  Atomics.store(words, H_EPOCH, makeEpoch(gen + 1, PHASE_STABLE));
  Atomics.notify(words, H_EPOCH);
  // After the flip: a reader still in table g that reads a freed block fails its epoch check.
  if (host.releaseRetired !== undefined && (clear || tombstones > 0)) host.releaseRetired(words, old, clear);
}

/**
 * Wait until the slot at `at` of a retired table is unlocked and return its
 * seq word. After a flip only a writer that locked the slot before the phase
 * left STABLE can still hold it (clear() does not wait for them); it releases
 * soon and never locks a retired table again.
 */
export function settledSeq(words: Int32Array, at: number): number {
  let seq = Atomics.load(words, at);
  for (let attempt = 0; (seq & LOCKED) !== 0; attempt++) {
    backoff(attempt);
    seq = Atomics.load(words, at);
  }
  return seq;
}
