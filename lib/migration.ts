/**
 * Online resize: copy table g into a new region and flip the epoch to g+1.
 *
 * Protocol (phases of the epoch word, see epoch.ts):
 * 1. A writer that finds no insert budget left in table g takes the migration
 *    control (CAS H_MIG_OWNER 0 -> its record tag), then CASes the epoch
 *    STABLE(g) -> ALLOCATING(g). Only that writer proceeds; others wait.
 * 2. It sizes the new table from the live count (room for twice the live
 *    entries at the maximum load: grownBuckets, the exact bucket count;
 *    at least the initial table, so a table
 *    full of tombstones is rehashed at the same size; and room for one more
 *    insert per writer that announces generation g: memory.ts
 *    writersAnnouncing, read before SIZE), takes a retired
 *    region that no writer can still be in, or the one that ends at the top
 *    together with words bumped above it (memory.ts takeFreeRegionAtTop), or
 *    bump-allocates one (growing the buffer), zeroes a reused region, writes
 *    TABLE_DESC[(g+1) & 1], resets the cursor, stores COPYING(g) and lets go
 *    of the control. Near maxBytes, in a map without arena blocks, the table
 *    takes at most half of the words tables can have (halfTableSpaceBuckets),
 *    placed so that the words it leaves merge with table g's region when that
 *    retires: at the limit two tables alternate, and this keeps them equal.
 *    At maxBytes, when that table does not fit, it takes the
 *    largest one that does (fittingBuckets; it may be smaller than table g)
 *    if that leaves minFitHeadroom(live, inFlight) inserts of room, and waits
 *    up to PINNED_REGION_WAIT_MS for a retired region a writer of an older
 *    generation is still in when that one would fit. If nothing fits it
 *    restores STABLE(g) and throws ERR_FLATSHARE_FULL: nothing changed.
 * 3. Every writer that sees COPYING(g) helps. Chunks of MIGRATION_CHUNK_BUCKETS
 *    old buckets are handed out by the tagged cursor (a hint), and owned through
 *    the old table's CHUNK_STATE words: CAS 0 -> CHUNK_CLAIMED | tag, copy,
 *    store CHUNK_DONE | entries. A helper that throws (the hasher runs on every
 *    copied key) or dies leaves its chunk unclaimed again (it unclaims it
 *    itself, or recovery does), and a helper that runs out of cursor chunks
 *    scans the chunk states for unclaimed ones. Redoing a chunk is safe:
 *    a copy locks its new bucket like a write (bucket-copy.ts: lock word with
 *    the owner tag, INTENT_COPY with the lane's words, so recovery rolls a
 *    dead copier forward), and an entry whose key words are already in the
 *    new table is not copied again.
 *    Copying reads an old bucket only while it is unlocked. A writer that locked
 *    it before the phase left STABLE finishes first (it saw STABLE after its
 *    lock CAS, so the migrator's later load sees the lock or its release); a
 *    writer that locks it later sees the phase and backs out without writing.
 *    So table g is read-only from the moment copying can begin.
 * 4. A helper that finds every chunk DONE takes the migration control and
 *    flips: it writes the new table's SIZE (the sum of the chunks' entry
 *    counts) and REMAINING, records the old region as retired at g+1, stores
 *    STABLE(g+1), lets go of the control and notifies waiters.
 *
 * Readers are not involved: they keep reading table g until their generation
 * check sees g+1, then re-probe in table g+1.
 *
 * Invariants: the new table is written only by helpers, each lane taken under
 * its bucket's lock, and nobody reads it before the flip; every key of
 * table g appears exactly once in table g+1 (keys are unique in g, each old
 * bucket belongs to exactly one chunk, one helper at a time owns a chunk, and a
 * redo skips entries already copied).
 *
 * Waiting (for a locked old bucket, a locked new bucket, the control, or the
 * flip) goes through `host.pause`, which is bounded and repairs DEAD threads
 * (recovery.ts).
 *
 * `clear()` is a migration that copies nothing: ALLOCATING(g), a fresh table
 * of the initial size (at maxBytes, the largest that fits if the initial
 * one does not fit beside table g), then STABLE(g+1) directly.
 */
import { LOCKED, ORDERED_PLAIN_LOADS } from './seqlock.js';
import {
  PHASE_ALLOCATING,
  PHASE_COPYING,
  PHASE_STABLE,
  MIGRATION_CHUNK_BUCKETS,
  CURSOR_TAG_MASK,
  cursorChunk,
  cursorTag,
  cursorWord,
  genOf,
  makeEpoch,
  phaseOf,
} from './epoch.js';
import {
  CHUNK_CLAIMED,
  CHUNK_DONE,
  CACHE_LINE_INTS,
  H_EPOCH,
  H_MIG_CURSOR,
  H_MIG_OWNER,
  MAX_BUCKETS,
  TABLE_BUCKET_INTS,
  T_SIZE,
  T_REMAINING,
  W_ACTIVE_GEN,
  bucketsFor,
  bucketsForRegionInts,
  chunkCount,
  chunkStateInts,
  chunkStatesAt,
  insertBudget,
  tableRegionInts,
} from './layout.js';
import { FlatshareFullError } from './errors.js';
import {
  announceAllocation,
  announcedAllocation,
  bumpAllocate,
  bumpRoomInts,
  clearAnnouncedAllocation,
  alignedTop,
  freeRegionAtTopInts,
  freeRegions,
  largestFreeRegionInts,
  rebuildFreeList,
  retireRegion,
  reusableThrough,
  takeFreeRegion,
  takeFreeRegionAtTop,
  takeTopRunEnd,
  topRunRoomInts,
  writersAnnouncing,
  type SharedMemory,
} from './memory.js';
import { initTableHeader, readTableInfo, tableRegionOf, writeTableInfo, type TableInfo } from './table.js';
import { allChunksDone, copiedEntries } from './recovery.js';
import type { BucketGeometry } from './bucket.js';
import { copyBucket, type BucketCopyHost } from './bucket-copy.js';

/**
 * The new table holds GROWTH_FACTOR x the live entries within its insert
 * budget (layout.ts bucketsFor, exact: no rounding to a power of two): a table
 * full of live entries (live = 0.8 L lanes) doubles to 2L lanes, whose budget
 * is 1.6 L; a table full of tombstones is rehashed at its own size (at least
 * the initial one).
 *
 * 2 rather than 1.5: measured on 2026-12-04 (docs/layout6.md, "Measured after
 * the switch"), set with resizes is 15-20 % faster with 2, and get hit and
 * the committed bytes per entry come out the same.
 */
export const GROWTH_FACTOR = 2;

/** Buckets of the table a migration of a table with `live` entries and `inFlight` announced writers allocates. */
export function grownBuckets(live: number, inFlight: number, lanes: number, initialBuckets: number): number {
  return Math.max(initialBuckets, bucketsFor(live + Math.max((GROWTH_FACTOR - 1) * live, inFlight), lanes));
}

/** How long one Atomics.wait for an epoch change may last before re-checking, in ms. */
export const EPOCH_WAIT_MS = 5;

/** What migration needs from the map instance of the calling thread. */
export interface MigrationHost {
  readonly memory: SharedMemory;
  /** The map's bucket geometry. */
  readonly g: BucketGeometry;
  /** Buckets of the first table (H_INITIAL_BUCKETS): the smallest a resize makes, and a clear's. */
  readonly initialBuckets: number;
  /**
   * Whether the map keeps arena blocks (string keys, or string, bytes or json
   * values). They are bump-allocated from the same top as table regions, and a
   * retired region serves only tables, so a resize at maxBytes leaves the room
   * at the top to them (fittingBuckets).
   */
  readonly arenaBlocks: boolean;
  /** This thread's writer record (word index). */
  readonly writerRecord: number;
  /** Tag of this thread's writer record (lock words, chunk claims, H_MIG_OWNER). */
  readonly recordTag: number;
  /** The current explicit-length view. */
  words(): Int32Array;
  /** Make a new view after the buffer grew; returns it. */
  refreshWords(): Int32Array;
  /** Hash of the key in lane `lane` of the bucket at `at`. */
  hashAt(words: Int32Array, at: number, lane: number): number;
  /**
   * Wait a little (attempt counts the calls of this wait): spin, sleep, repair
   * DEAD threads, throw ERR_FLATSHARE_TIMEOUT past the instance's limit.
   */
  pause(attempt: number, what: string): void;
  /**
   * Copy old buckets [first, end) of `old` into `next` in one WebAssembly call
   * (wasm/bucket-write-path.ts `copyBuckets`, the same steps as bucket-copy.ts
   * `copyBucket`). Returns the entries of the buckets it finished;
   * `copyStoppedAt()` is then the first bucket it did not finish (one it
   * would have had to wait for, which copyBucket redoes), or `end`. Absent
   * when the keys are hashed by a JS hasher (int32 keys with a hasher other
   * than the built-in murmur3).
   */
  copyRange?(old: TableInfo, next: TableInfo, first: number, end: number): number;
  copyStoppedAt?(): number;
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
  if (!takeControl(host, epoch)) return;
  if (Atomics.compareExchange(words, H_EPOCH, epoch, makeEpoch(gen, PHASE_ALLOCATING)) !== epoch) {
    Atomics.store(words, H_MIG_OWNER, 0);
    return;
  }
  let next: TableInfo;
  let old: TableInfo;
  try {
    old = readTableInfo(words, gen);
    // Read after the ALLOCATING CAS and before SIZE: see writersAnnouncing.
    const inFlight = clear ? 0 : writersAnnouncing(words, gen);
    const live = Atomics.load(words, old.base + T_SIZE);
    const wanted = clear ? host.initialBuckets : grownBuckets(live, inFlight, host.g.lanes, host.initialBuckets);
    const base = allocateTable(host, gen + 1, wanted, old, clear ? { live: 0, inFlight: 0, most: host.initialBuckets } : { live, inFlight });
    words = host.refreshWords();
    const buckets = base.buckets;
    writeTableInfo(words, gen + 1, base.base, buckets);
    next = readTableInfo(words, gen + 1);
    if (clear) {
      initTableHeader(words, next.base, 0, insertBudget(buckets, host.g.lanes));
      flip(host, words, gen, old, 0, true);
      clearAnnouncedAllocation(words);
      Atomics.store(words, H_MIG_OWNER, 0);
      return;
    }
    initTableHeader(words, next.base, 0, 0);
    Atomics.store(words, H_MIG_CURSOR, cursorWord(gen, 0));
  } catch (error) {
    words = host.refreshWords();
    // A clear's flip may have made table g+1 current before its clean-up threw
    // (releaseRetired waits for arena locks, with a timeout): then nothing is undone.
    if (Atomics.load(words, H_EPOCH) === makeEpoch(gen, PHASE_ALLOCATING)) {
      // A region taken for table g+1 goes back on the free list (retired as it was). The
      // announcement may overlap a record (the rest of the one it was taken from): a union.
      const taken = announcedAllocation(words, gen + 1);
      if (taken !== undefined) rebuildFreeList(words, [taken], [tableRegionOf(words, gen)]);
      Atomics.store(words, H_EPOCH, epoch);
    }
    clearAnnouncedAllocation(words);
    Atomics.store(words, H_MIG_OWNER, 0);
    Atomics.notify(words, H_EPOCH);
    throw error;
  }
  // Publishes the new table's descriptor, its zeroed buckets and the cursor.
  Atomics.store(words, H_EPOCH, makeEpoch(gen, PHASE_COPYING));
  clearAnnouncedAllocation(words); // table g+1 is in use now: recovery must never give it back
  Atomics.store(words, H_MIG_OWNER, 0);
  Atomics.notify(words, H_EPOCH);
  helpCopy(host, makeEpoch(gen, PHASE_COPYING));
}

/**
 * Take the migration control (H_MIG_OWNER) while the epoch is still `epoch`.
 * False when the epoch moved on meanwhile (somebody else migrated).
 */
function takeControl(host: MigrationHost, epoch: number): boolean {
  const words = host.words();
  for (let attempt = 0; ; attempt++) {
    if (Atomics.compareExchange(words, H_MIG_OWNER, 0, host.recordTag) === 0) {
      if (Atomics.load(words, H_EPOCH) === epoch) return true;
      Atomics.store(words, H_MIG_OWNER, 0);
      return false;
    }
    if (Atomics.load(words, H_EPOCH) !== epoch) return false;
    host.pause(attempt, 'the migration control');
  }
}

/** A zeroed region of `buckets` buckets: a reusable retired region first, else bump-allocated. Throws FlatshareFullError. */
function allocateRegion(host: MigrationHost, forGen: number, buckets: number): { base: number; buckets: number } {
  const words = host.words();
  const ints = tableRegionInts(buckets);
  // Announced before the free list gives the region up (memory.ts announceAllocation), so
  // that recovery gives it back if this thread dies before the table is published.
  const announce = (base: number, recordInts: number, retiredAt: number): void =>
    announceAllocation(words, forGen, base, recordInts, retiredAt);
  const reused = buckets <= MAX_BUCKETS ? takeFreeRegion(words, ints, announce) : -1;
  if (reused >= 0) {
    // Nobody can be in a reusable region; readers that still think so fail their generation check.
    host.refreshWords().fill(0, reused, reused + ints);
    return { base: reused, buckets };
  }
  if (buckets > MAX_BUCKETS) throw new FlatshareFullError(ints * Int32Array.BYTES_PER_ELEMENT, host.memory.maxByteLength);
  // A retired region that ends at the top, run on past it: at maxBytes the map
  // alternates between a low region and the high one, which only this reaches in full.
  const extended = takeFreeRegionAtTop(words, host.memory, ints, announce);
  if (extended !== undefined) return claimRegion(host, forGen, extended, buckets);
  const base = bumpAllocate(words, host.memory, ints, CACHE_LINE_INTS);
  // After the CAS that took it (before it, the words could be another thread's next
  // arena block). A thread stopped in between (a return and a call) leaks the region.
  announceAllocation(host.words(), forGen, base, ints, 0);
  return { base, buckets };
}

/**
 * Allocate the table fittingBuckets sized. In a map without arena blocks whose
 * run of free words at the top begins where table g's region ends, the table
 * takes the end of that run (memory.ts takeTopRunEnd, told where table g
 * ends), so that the words it leaves merge with table g's region when that
 * retires; otherwise, and when
 * that fails, as allocateRegion (which takes the head of a region, leaving
 * its tail next to a table g above it). Throws FlatshareFullError.
 */
function allocateFitted(host: MigrationHost, forGen: number, buckets: number, old: TableInfo): { base: number; buckets: number } {
  if (!host.arenaBlocks) {
    const words = host.words();
    const announce = (base: number, recordInts: number, retiredAt: number): void =>
      announceAllocation(words, forGen, base, recordInts, retiredAt);
    const taken = takeTopRunEnd(words, host.memory, tableRegionInts(buckets), CACHE_LINE_INTS, announce, regionEnd(old));
    if (taken !== undefined) return claimRegion(host, forGen, taken, buckets);
  }
  return allocateRegion(host, forGen, buckets);
}

/**
 * A table region of `buckets` buckets taken from free words at `taken.base`
 * (takeFreeRegionAtTop, takeTopRunEnd), some of them a record retired at
 * `taken.retiredAtGen`: announced whole for table `forGen`, then zeroed.
 */
function claimRegion(host: MigrationHost, forGen: number, taken: { base: number; retiredAtGen: number }, buckets: number): { base: number; buckets: number } {
  const ints = tableRegionInts(buckets);
  announceAllocation(host.words(), forGen, taken.base, ints, taken.retiredAtGen);
  host.refreshWords().fill(0, taken.base, taken.base + ints);
  return { base: taken.base, buckets };
}

/** The first word after table `t`'s region. */
function regionEnd(t: TableInfo): number {
  return t.base + tableRegionInts(t.buckets);
}

/** Fewest buckets whose budget holds `need.live` entries and minFitHeadroom more. */
function leastBuckets(need: FitNeed, lanes: number): number {
  return bucketsFor(need.live + minFitHeadroom(need.live, need.inFlight), lanes);
}

/** Half of `ints` words, rounded down to whole cache lines. */
function halfInLines(ints: number): number {
  return Math.floor(ints / 2 / CACHE_LINE_INTS) * CACHE_LINE_INTS;
}

/** What a table sized to the room left must hold (fittingBuckets). */
export interface FitNeed {
  /** Entries of table g (its SIZE, read after the ALLOCATING CAS). */
  readonly live: number;
  /** Writers that may still land an insert in table g (writersAnnouncing). */
  readonly inFlight: number;
  /** At most this many buckets (a clear: the initial table's); default: enough for GROWTH_FACTOR x live. */
  readonly most?: number;
}

/**
 * How long a resize at maxBytes waits for a retired region that a writer of an
 * older generation still announces, before it answers FULL, in ms. Such a
 * writer is between two steps of an operation (it moves on within
 * microseconds, unless it is descheduled, paused or dead); every other writer
 * waits behind the resize meanwhile (the epoch is ALLOCATING), so the wait is
 * short and FULL (nothing changed) comes next.
 */
export const PINNED_REGION_WAIT_MS = 250;

/**
 * Allocate and zero a table region of `buckets` buckets. When that does not fit
 * in maxBytes, take the largest table that fits instead (fittingBuckets): for
 * a resize the same size or between it and `buckets` when the room is there,
 * or smaller, for a map whose used lanes are mostly tombstones; for a clear a
 * first table smaller than the initial one, when that does not fit beside the
 * table being cleared. When a table would fit in a retired region that a
 * writer of an older generation still announces (memory.ts takeFreeRegion),
 * wait for it first, up to PINNED_REGION_WAIT_MS (host.pause, which also
 * repairs dead threads), rather than answer FULL for memory that is about to
 * be free, or settle for a smaller table. Throws the FlatshareFullError of
 * `buckets` when nothing fits.
 */
function allocateTable(host: MigrationHost, forGen: number, wanted: number, old: TableInfo, need: FitNeed): { base: number; buckets: number } {
  // Near maxBytes, no more than half of the words tables can have (halfTableSpaceBuckets),
  // or the first table's size when the map was presized to more.
  const half = host.arenaBlocks ? wanted : Math.max(host.initialBuckets, halfTableSpaceBuckets(host, old));
  const buckets = Math.min(wanted, Math.max(half, leastBuckets(need, host.g.lanes)));
  let waitingSince = 0;
  for (let attempt = 0; ; attempt++) {
    let full: FlatshareFullError;
    try {
      return buckets < wanted ? allocateFitted(host, forGen, buckets, old) : allocateRegion(host, forGen, buckets);
    } catch (error) {
      if (!(error instanceof FlatshareFullError)) throw error;
      full = error;
    }
    // The largest retired region, counting those a writer may still be in (the free
    // list itself does not change: only this thread, owning ALLOCATING, edits it).
    const pinned = largestFreeRegionInts(host.words(), true);
    const waited = waitingSince === 0 ? 0 : Date.now() - waitingSince;
    const mayWait = waited <= PINNED_REGION_WAIT_MS;
    // The wanted table fits once a writer moves on: wait for that, not for a smaller one.
    if (!(mayWait && pinned >= tableRegionInts(buckets))) {
      const fit = fittingBuckets(host, old, need, false);
      if (fit > 0) {
        try {
          return allocateFitted(host, forGen, fit, old);
        } catch (error) {
          // Another writer bumped the top meanwhile (an arena block): as full as before.
          if (!(error instanceof FlatshareFullError)) throw error;
        }
      }
      // Counting the regions writers may still be in: would anything fit? (One can also
      // have become reusable since the tries above: then the next turn takes it.)
      if (!mayWait || fittingBuckets(host, old, need, true) === 0) throw full;
    }
    if (waitingSince === 0) waitingSince = Date.now();
    host.pause(attempt, 'a retired table region that a writer of an older generation is still in');
  }
}

/**
 * A table sized to what is left of maxBytes must leave room for at least
 * live / FIT_HEADROOM_DIVISOR inserts: the next resize then comes after that
 * many, so copying the live entries costs at most this many entry copies per
 * insert, whatever the size of the map. A smaller table would thrash (a full
 * copy every few inserts); the insert throws ERR_FLATSHARE_FULL instead.
 * Measured (docs/design.md §3): with 32, churn at the limit costs at most
 * ~1.3 µs per delete + insert and is FULL past ~96 % of what the map held
 * when it first filled; with 16, ~0.6 µs and ~94 %.
 */
export const FIT_HEADROOM_DIVISOR = 32;

/**
 * Inserts a table sized to the room left must accept beyond `live` entries:
 * the `inFlight` ones that may still land in table g and will be copied, one
 * more so that the insert that asked for the resize goes through, and at
 * least live / FIT_HEADROOM_DIVISOR.
 */
export function minFitHeadroom(live: number, inFlight: number): number {
  return Math.max(inFlight + 1, Math.ceil(live / FIT_HEADROOM_DIVISOR));
}

/**
 * Buckets of a table that fits in a retired region (`includePinned`: counting
 * those a writer may still be in), in the run of free words at the top (the
 * retired region that ends at the top, if any, and the room above it up to
 * maxBytes: takeFreeRegionAtTop), and holds `need.live` entries plus
 * minFitHeadroom; 0 when none does. The largest that fits, but no larger than
 * `need.most`, by default the exact size for GROWTH_FACTOR x live, and:
 * - In a map with arena blocks, a table that uses the room at the top is no
 *   larger than table g (`old`): that room is also where key and value blocks
 *   come from, and once a table has used it, it serves only tables, so
 *   growing there could leave the new table's entries without blocks.
 * - In a map without, a table in free words next to table g's region takes
 *   at most half of the two together (balancedBuckets), or what the headroom
 *   needs if that is more, and leaves the rest next to table g (the head of a
 *   region below it; the end of the run above it: takeTopRunEnd), where it
 *   merges with table g's region when that retires. At maxBytes the tables
 *   alternate between two regions, and taking all of one would fix the other
 *   at what is left: a map that first filled its maxBytes with a small table
 *   beside a large one would answer FULL at little more than the small one's
 *   budget (spec/unit/growth-at-limit.test.ts shows both).
 * Tables of any bucket count are valid (table.ts homeSlot), so this can be
 * smaller than the table it replaces (a map whose used lanes are mostly
 * tombstones) or between it and its double. Caller owns the ALLOCATING phase.
 */
export function fittingBuckets(host: MigrationHost, old: TableInfo, need: FitNeed, includePinned: boolean): number {
  const words = host.words();
  const lanes = host.g.lanes;
  const headroom = minFitHeadroom(need.live, need.inFlight);
  const least = leastBuckets(need, lanes);
  const oldInts = tableRegionInts(old.buckets);
  const nextTo = (ints: number): number => balancedBuckets(ints, oldInts, least);
  let room = 0;
  const oldest = reusableThrough(words, includePinned);
  const top = alignedTop(words, CACHE_LINE_INTS);
  for (const region of freeRegions(words)) {
    if (region.ints <= 0 || region.retiredAtGen > oldest) continue;
    const end = region.base + region.ints;
    // Without arena blocks, the region that ends at the top counts in the run below.
    if (!host.arenaBlocks && end === top) continue;
    room = Math.max(room, !host.arenaBlocks && end === old.base ? nextTo(region.ints) : bucketsForRegionInts(region.ints));
  }
  const atTopInts = freeRegionAtTopInts(words, includePinned);
  if (host.arenaBlocks) {
    room = Math.max(room, Math.min(bucketsForRegionInts(atTopInts + bumpRoomInts(words, host.memory, CACHE_LINE_INTS)), old.buckets));
  } else {
    // The run at the top, as takeTopRunEnd and takeFreeRegionAtTop see it (its end in whole cache lines).
    const runInts = atTopInts + topRunRoomInts(words, host.memory, CACHE_LINE_INTS);
    room = Math.max(room, top - atTopInts === regionEnd(old) ? nextTo(runInts) : bucketsForRegionInts(runInts));
  }
  const enough = need.most ?? Math.max(bucketsFor(GROWTH_FACTOR * need.live, lanes), least);
  const buckets = Math.min(room, enough);
  return buckets > 0 && insertBudget(buckets, lanes) - need.live >= headroom ? buckets : 0;
}

/**
 * Buckets of a table of half the words that tables can have while table g
 * (`old`) is current: its region, every retired region (also those a writer
 * may still be in: they are free soon) and the room above the top up to
 * maxBytes. For a map without arena blocks, whose memory holds nothing else:
 * at maxBytes two tables alternate, and a table larger than this would leave
 * the other one less (fittingBuckets). Caller owns the ALLOCATING phase.
 */
export function halfTableSpaceBuckets(host: MigrationHost, old: TableInfo): number {
  const words = host.words();
  let ints = tableRegionInts(old.buckets);
  for (const region of freeRegions(words)) ints += Math.max(0, region.ints);
  ints += topRunRoomInts(words, host.memory, CACHE_LINE_INTS);
  return bucketsForRegionInts(halfInLines(ints));
}

/**
 * Buckets of a table in `freeInts` free words next to a table region of
 * `oldInts` words: those of half the two together (whole cache lines), at
 * least `least` (what the headroom needs), at most what fits in the free
 * words. See fittingBuckets.
 */
export function balancedBuckets(freeInts: number, oldInts: number, least: number): number {
  return Math.min(bucketsForRegionInts(freeInts), Math.max(least, bucketsForRegionInts(halfInLines(freeInts + oldInts))));
}

/**
 * Help the migration announced by `epoch` (phase COPYING) or wait for the one
 * being allocated, then return once the epoch has moved on. Re-helps after
 * every wait slice: chunks given back by a failed or dead helper get redone.
 */
export function helpOrWait(host: MigrationHost, epoch: number): void {
  const words = host.words();
  for (let attempt = 0; Atomics.load(words, H_EPOCH) === epoch; attempt++) {
    if (phaseOf(epoch) === PHASE_COPYING) helpCopy(host, epoch);
    if (Atomics.load(words, H_EPOCH) !== epoch) return;
    Atomics.wait(words, H_EPOCH, epoch, EPOCH_WAIT_MS);
    host.pause(attempt, 'a migration');
  }
}

/** Copy chunks of the migration announced by `epoch` until none is left to claim; flip if all are done. */
export function helpCopy(host: MigrationHost, epoch: number): void {
  // Only a COPYING epoch names a finished new table. Under ALLOCATING(g) the
  // descriptor of g + 1 is still being written (it may describe table g - 1),
  // and the chunk states of table g are all "unclaimed": copying them then
  // would mark chunks of the CURRENT table done before its migration began,
  // and that migration would skip them (entries lost).
  if (phaseOf(epoch) !== PHASE_COPYING) return;
  let words = host.words();
  const gen = genOf(epoch);
  Atomics.store(words, host.writerRecord + W_ACTIVE_GEN, gen + 1);
  if (Atomics.load(words, H_EPOCH) !== epoch) return;
  // From here table g's region cannot be reused (our ACTIVE_GEN), so its chunk words are safe to touch.
  const old = readTableInfo(words, gen);
  const next = readTableInfo(words, gen + 1);
  // Validate the descriptors: a helper delayed here past the flip of g and the
  // ALLOCATING(g + 1) that follows would otherwise read g + 2's new table as
  // "old" and the current table as "next", copy the former's unclaimed (empty)
  // chunks and mark them DONE, and the migration of g + 2 would later skip
  // them: every entry in them lost. Descriptor g is only rewritten after the
  // epoch left COPYING(g), so an unchanged epoch after the reads vouches for them.
  if (Atomics.load(words, H_EPOCH) !== epoch) return;
  const need = Math.max(next.first + next.buckets * TABLE_BUCKET_INTS, chunkStatesAt(old.base, old.buckets) + chunkStateInts(old.buckets));
  if (need > words.length) words = host.refreshWords();
  const chunks = chunkCount(old.buckets);
  const states = chunkStatesAt(old.base, old.buckets);
  const tag = gen & CURSOR_TAG_MASK;
  // Fast path: the cursor hands out each chunk once.
  for (;;) {
    const cursor = Atomics.load(words, H_MIG_CURSOR);
    const chunk = cursorChunk(cursor);
    if (cursorTag(cursor) !== tag || chunk >= chunks) break;
    if (Atomics.compareExchange(words, H_MIG_CURSOR, cursor, cursor + 1) !== cursor) continue;
    copyChunk(host, words, old, next, states, chunk);
  }
  // Chunks given back by a helper that threw or died.
  for (let c = 0; c < chunks; c++) if (Atomics.load(words, states + c) === 0) copyChunk(host, words, old, next, states, c);
  if (allChunksDone(words, old)) tryFlip(host, words, epoch, old);
}

/** Claim chunk `c` and copy it; on an exception give the chunk back and rethrow. */
function copyChunk(host: MigrationHost, words: Int32Array, old: TableInfo, next: TableInfo, states: number, c: number): void {
  const claim = CHUNK_CLAIMED | host.recordTag;
  if (Atomics.compareExchange(words, states + c, 0, claim) !== 0) return;
  const first = c * MIGRATION_CHUNK_BUCKETS;
  const end = Math.min(old.buckets, first + MIGRATION_CHUNK_BUCKETS);
  const copier = copyHostOf(host);
  const atomic = !ORDERED_PLAIN_LOADS;
  let copied = 0;
  try {
    if (host.copyRange !== undefined) {
      // wasm copies the run; a bucket it would wait for is copied (waited for) here, then wasm goes on.
      for (let b = first; b < end; b++) {
        copied += host.copyRange(old, next, b, end);
        b = (host.copyStoppedAt as () => number)();
        if (b < end) copied += copyBucket(copier, words, old, next, b, atomic);
      }
    } else {
      for (let b = first; b < end; b++) copied += copyBucket(copier, words, old, next, b, atomic);
    }
  } catch (error) {
    // Entries already copied stay; the redo skips them.
    Atomics.store(words, states + c, 0);
    throw error;
  }
  // Commit point of the chunk: one store, with its entry count.
  Atomics.store(words, states + c, CHUNK_DONE | copied);
}

/** What bucket-copy.ts needs, from the migration host of this thread (its record is fixed for the call). */
function copyHostOf(host: MigrationHost): BucketCopyHost {
  return {
    g: host.g,
    rec: host.writerRecord,
    tag: host.recordTag,
    hashAt: (words, at, lane) => host.hashAt(words, at, lane),
    pause: (attempt, what) => host.pause(attempt, what),
  };
}

/** Flip table g+1 in if every chunk is done, under the migration control. */
function tryFlip(host: MigrationHost, words: Int32Array, epoch: number, old: TableInfo): void {
  if (Atomics.compareExchange(words, H_MIG_OWNER, 0, host.recordTag) !== 0) return;
  const gen = genOf(epoch);
  try {
    if (Atomics.load(words, H_EPOCH) === epoch && allChunksDone(words, old)) {
      flip(host, words, gen, old, copiedEntries(words, old), false);
    }
  } finally {
    // Also when the clean-up after the flip (releaseRetired: arena locks, with a timeout) throws.
    Atomics.store(words, H_MIG_OWNER, 0);
  }
}

/** Make table gen+1 current. The caller holds the migration control and every chunk is done (or it is clearing). */
function flip(host: MigrationHost, words: Int32Array, gen: number, old: TableInfo, copied: number, clear: boolean): void {
  const next = readTableInfo(words, gen + 1);
  const lanes = host.g.lanes;
  initTableHeader(words, next.base, copied, insertBudget(next.buckets, lanes) - copied);
  retireRegion(words, old.base, tableRegionInts(old.buckets), gen + 1);
  // Tombstones in table g: lanes ever filled minus the FULL ones just copied.
  const tombstones = insertBudget(old.buckets, lanes) - Atomics.load(words, old.base + T_REMAINING) - copied;
  Atomics.store(words, H_EPOCH, makeEpoch(gen + 1, PHASE_STABLE));
  Atomics.notify(words, H_EPOCH);
  // After the flip: a reader still in table g that reads a freed block fails its epoch check.
  if (host.releaseRetired !== undefined && (clear || tombstones > 0)) host.releaseRetired(words, old, clear);
}

/**
 * Wait until the bucket at `at` of a retired table is unlocked and return its
 * SEQ word, or undefined when `pause` gives up (the holder died: its blocks leak).
 * After a flip only a writer that locked the bucket before the phase left
 * STABLE can still hold it (clear() does not wait for them); it releases soon
 * and never locks a retired table again.
 */
export function settledSeq(
  words: Int32Array,
  at: number,
  pause: (attempt: number, what: string) => void,
): number | undefined {
  let seq = Atomics.load(words, at);
  for (let attempt = 0; (seq & LOCKED) !== 0; attempt++) {
    try {
      pause(attempt, 'a bucket lock of a retired table');
    } catch {
      return undefined;
    }
    seq = Atomics.load(words, at);
  }
  return seq;
}
