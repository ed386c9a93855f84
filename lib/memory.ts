/**
 * The shared buffer and its allocator.
 *
 * - The map owns one shared WebAssembly.Memory whose maximum is the map's
 *   maxBytes rounded up to 64 KiB pages. Reserving it commits no memory;
 *   `grow()` commits pages as the allocator's top passes the current length.
 *   (A WebAssembly.Memory rather than a growable SharedArrayBuffer, so that the
 *   read and write paths can run in WebAssembly: lib/wasm/bucket-read-path.ts,
 *   bucket-write-path.ts. Its
 *   `.buffer` is a SharedArrayBuffer that JS views as before.)
 * - Allocation is a bump pointer (H_ALLOC_TOP, moved by CAS) plus a short list
 *   of retired table regions that are reused first-fit when they are safe to
 *   reuse (see epoch.ts, "Region reuse"); a retired region that ends at the
 *   top can also run on past it (takeFreeRegionAtTop: at maxBytes the tables
 *   alternate between a low region and the one at the top, and only this
 *   reaches all of the latter). The free list is only touched by the
 *   single writer that owns the ALLOCATING phase, or by the flipper at the end
 *   of COPYING, so it needs no lock of its own.
 * - The free list survives the death of that writer (recovery.ts rebuilds it
 *   instead of forgetting it). Invariant: at every instant, every record below
 *   FREE_COUNT lists only free words, i.e. words of retired tables or of the
 *   region the owner has announced (announceAllocation) and not yet published.
 *   Each edit keeps it at every store, not only at its end:
 *   - taking the head of a record stores SIZE (smaller, the taken words still
 *     included: the whole record is announced) before BASE;
 *   - a record is removed by storing SIZE 0 first; the last record is then
 *     copied into its place with SIZE last (for a moment it is listed twice),
 *     and FREE_COUNT drops;
 *   - a region merges into a neighbour record in place: GEN first (a later
 *     generation only delays reuse), then, below the region, SIZE; above it,
 *     BASE and then SIZE (in between the record lists a prefix of the two);
 *   - a new record is written above FREE_COUNT, which then grows.
 *   So a dead owner leaves records that may overlap or repeat each other but
 *   cover only free words; rebuildFreeList turns their union into a clean list.
 * - Each thread views the buffer through an explicit-length Int32Array and
 *   makes a new one when it needs a word beyond it: a length-tracking view of a
 *   growable buffer is about 8 times slower to index.
 * - Two threads calling grow() at once both add pages (see WasmSharedMemory.grow);
 *   a grow that fails because the memory reached its maximum is treated as
 *   success by `ensureBytes` when the memory is now long enough.
 * - `memory.buffer` can lag behind another thread's grow. V8 (Node 20) gives
 *   the other threads their longer buffer only when each handles the interrupt
 *   that the grow posts to it, at its next stack check (a function entry or a
 *   loop back edge); until then `memory.buffer` in that thread is the old, shorter
 *   SharedArrayBuffer, although the thread may already have seen words that the
 *   grower wrote into the new pages (spec/unit/stale-views.test.ts shows it). So the
 *   length of a thread's own `memory.buffer` is not a bound on what is
 *   allocated: H_ALLOC_TOP is (the allocator grows the memory before it moves
 *   ALLOC_TOP past the old end), and `bufferCovering` returns a buffer that
 *   reaches it, calling `grow(0)` when this thread's buffer is still the old one
 *   (a grow, even of 0 pages, refreshes the calling thread's buffer at once).
 */
import { FlatshareFullError, FlatshareUnsupportedError } from './errors.js';
import { wasmApi, type SharedWasmMemory } from './wasm/api.js';
import { loadWord } from './seqlock.js';
import { writerRecordAt } from './writers.js';
import {
  FREE_REGION_BASE,
  FREE_REGION_INTS,
  FREE_REGION_MAX,
  FREE_REGION_RETIRED_GEN,
  FREE_REGION_SIZE,
  GROW_STEP_BYTES,
  H_ALLOC_TOP,
  ALLOC_PENDING_BASE,
  ALLOC_PENDING_FOR,
  ALLOC_PENDING_INTS,
  ALLOC_PENDING_RETIRED_GEN,
  H_ALLOC_PENDING,
  H_FREE_COUNT,
  H_FREE_REGIONS,
  INT_BYTES,
  MAX_WRITERS,
  W_ACTIVE_GEN,
} from './layout.js';

/**
 * The map's shared memory as this module uses it: a shared WebAssembly.Memory
 * (so that the read and write paths can run in WebAssembly, lib/wasm/bucket-read-path.ts)
 * behind the few members the allocator needs.
 */
export interface SharedMemory {
  /** Length in bytes (whole WebAssembly pages) of this thread's buffer: a lower bound of the memory's, see `buffer`. */
  readonly byteLength: number;
  /** The map's maxBytes: nothing is allocated past it. */
  readonly maxByteLength: number;
  /**
   * This thread's SharedArrayBuffer over the memory: a new object after this
   * thread grew it or noticed another thread's grow; can be shorter than the
   * memory is (see the module comment and `bufferCovering`).
   */
  readonly buffer: SharedArrayBuffer;
  /**
   * A SharedArrayBuffer of at least `minBytes` bytes, refreshed if this thread's is stale; with
   * `minBytes` above the memory's length (Infinity), this thread's buffer brought up to the real length.
   */
  bufferCovering(minBytes: number): SharedArrayBuffer;
  /** Grow so that byteLength >= newByteLength (rounded up to whole pages). */
  grow(newByteLength: number): void;
}

/** WebAssembly memories grow in pages of 64 KiB. */
export const WASM_PAGE_BYTES = 65536;

/** Pages needed for `bytes` bytes. */
export function pagesFor(bytes: number): number {
  return Math.ceil(bytes / WASM_PAGE_BYTES);
}

/** SharedMemory over a shared WebAssembly.Memory. */
export class WasmSharedMemory implements SharedMemory {
  constructor(
    /** The memory itself: what the handle carries and what the read path imports. */
    readonly memory: SharedWasmMemory,
    readonly maxByteLength: number,
  ) {}

  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  get buffer(): SharedArrayBuffer {
    return this.memory.buffer as SharedArrayBuffer; // shared: true
  }

  /**
   * This thread's buffer if it has at least `minBytes` bytes; otherwise it is
   * the stale buffer of a thread that has not yet handled another thread's
   * grow, and `grow(0)` (which adds nothing, and refreshes the calling
   * thread's buffer at once) brings it up to the memory's length. The map
   * passes a length it knows the memory has (H_ALLOC_TOP); `ensureBytes`
   * passes Infinity to learn the real length after a failed grow.
   */
  bufferCovering(minBytes: number): SharedArrayBuffer {
    const buffer = this.memory.buffer as SharedArrayBuffer;
    if (buffer.byteLength >= minBytes) return buffer;
    this.memory.grow(0);
    return this.memory.buffer as SharedArrayBuffer;
  }

  /**
   * `memory.grow` takes a page count to add, not a length, so two threads that
   * grow at once both add their pages: the memory can end up longer than either
   * asked for (never past its maximum, pagesFor(maxBytes)). The extra pages
   * are committed but harmless; the allocator never hands out words past
   * maxBytes. A grow past the maximum throws RangeError (ensureBytes decides).
   */
  grow(newByteLength: number): void {
    const have = this.byteLength;
    if (have >= newByteLength) return;
    this.memory.grow(pagesFor(newByteLength - have));
  }
}

/**
 * A new shared memory of at least `initialBytes`, which may grow to
 * `pagesFor(maxBytes)` pages. Throws FlatshareUnsupportedError when this
 * process has no WebAssembly (node --jitless).
 */
export function createSharedMemory(initialBytes: number, maxBytes: number): WasmSharedMemory {
  if (wasmApi === undefined) {
    throw new FlatshareUnsupportedError('flatshare needs WebAssembly (shared memories); it is not available in this process');
  }
  const memory = new wasmApi.Memory({ initial: pagesFor(initialBytes), maximum: pagesFor(maxBytes), shared: true });
  return new WasmSharedMemory(memory, maxBytes);
}

/** An explicit-length view of the whole memory as it is now. */
export function viewWords(memory: SharedMemory): Int32Array {
  const buffer = memory.buffer;
  return new Int32Array(buffer, 0, Math.floor(buffer.byteLength / INT_BYTES));
}

/** ensureBytes grows from this thread's length, then once more from the memory's real length. */
const GROW_ATTEMPTS = 2;

/** Grow the memory so that it is at least `bytes` long. Throws FlatshareFullError past maxByteLength. */
export function ensureBytes(memory: SharedMemory, bytes: number): void {
  const max = memory.maxByteLength;
  // Checked first: the memory is committed in whole pages, so it can already be
  // longer than maxBytes, and maxBytes is still the limit.
  if (bytes > max) throw new FlatshareFullError(bytes, max);
  if (memory.byteLength >= bytes) return;
  for (let attempt = 1; ; attempt++) {
    try {
      growFrom(memory, bytes, max);
      return;
    } catch (error) {
      // Another thread grew it at the same time, or this thread's length was stale
      // (see the module comment), so the grow went past the maximum: look at the
      // real length, and grow once more from it if that is still short.
      if (memory.bufferCovering(Number.POSITIVE_INFINITY).byteLength >= bytes) return;
      if (attempt === GROW_ATTEMPTS) throw error;
    }
  }
}

/** One grow toward `bytes`: double a small memory, then GROW_STEP_BYTES at a time (see GROW_STEP_BYTES). */
function growFrom(memory: SharedMemory, bytes: number, max: number): void {
  const length = memory.byteLength;
  const step = Math.min(GROW_STEP_BYTES, length);
  memory.grow(Math.min(max, Math.max(bytes, length + step)));
}

/**
 * Bump-allocate `ints` words starting at a multiple of `alignInts` (table
 * regions start on a cache line; arena blocks need no alignment, and the
 * words skipped to align are not reused). Returns the word index of the block.
 * The buffer is grown first; on failure ALLOC_TOP is not moved and
 * FlatshareFullError is thrown.
 */
export function bumpAllocate(words: Int32Array, memory: SharedMemory, ints: number, alignInts = 1): number {
  for (;;) {
    // Plain on x86 (loadWord): the CAS below validates it, as the lock CAS validates a bucket's SEQ.
    const top = loadWord(words, H_ALLOC_TOP);
    const start = Math.ceil(top / alignInts) * alignInts;
    const end = start + ints;
    // The caller's view is a lower bound of the memory's length (memories never
    // shrink): only past it ask the memory (a builtin call) and maybe grow it.
    if (end > words.length || end * INT_BYTES > memory.maxByteLength) ensureBytes(memory, end * INT_BYTES);
    if (Atomics.compareExchange(words, H_ALLOC_TOP, top, end) === top) return start;
  }
}

/** Lowest generation any active writer may still be touching, or Infinity when all are idle. */
export function oldestActiveGeneration(words: Int32Array): number {
  let oldest = Infinity;
  for (let w = 0; w < MAX_WRITERS; w++) {
    const active = Atomics.load(words, writerRecordAt(w) + W_ACTIVE_GEN);
    if (active !== 0 && active - 1 < oldest) oldest = active - 1;
  }
  return oldest;
}

/**
 * The newest retirement generation of a free region that may be taken now:
 * oldestActiveGeneration, or Infinity when `includePinned` (counting the
 * regions a writer may still be in, which are free soon).
 */
export function reusableThrough(words: Int32Array, includePinned: boolean): number {
  return includePinned ? Infinity : oldestActiveGeneration(words);
}

/**
 * Writer records that announce generation `gen` (ACTIVE_GEN = gen + 1): an
 * upper bound of the inserts that can still land in table `gen` once the
 * epoch left STABLE(gen), when read after the CAS that left it and before
 * the table's SIZE. A writer inserts only after it announced `gen` and then
 * saw STABLE(gen) again after its lock CAS, so in the total order of
 * sequentially consistent operations its announcement comes before that CAS
 * and this scan sees it, or the writer already went idle, which it does only
 * after its insert counted in SIZE. Each record holds at most one lock; a dead
 * writer's record keeps its announcement until recovery repairs it (and rolls
 * its insert forward or back). Caller must own the ALLOCATING phase.
 */
export function writersAnnouncing(words: Int32Array, gen: number): number {
  let count = 0;
  for (let w = 0; w < MAX_WRITERS; w++) {
    if (Atomics.load(words, writerRecordAt(w) + W_ACTIVE_GEN) === gen + 1) count++;
  }
  return count;
}

/** Word index of free-list record `r` (its FREE_REGION_* fields follow). */
export function freeRecordAt(r: number): number {
  return H_FREE_REGIONS + r * FREE_REGION_INTS;
}

/**
 * Take a retired region of at least `ints` words that no writer can still be in.
 * `announce` runs first with the whole record (base, size and retirement
 * generation: announceAllocation), then the record gives up its head (see the
 * module comment for the order of the stores). The whole record, not only the
 * head: a thread stopped between the two stores leaves a record of the head's
 * words, and the announcement then still covers the rest.
 * Returns the base, or -1. Caller must own the ALLOCATING phase.
 */
export function takeFreeRegion(
  words: Int32Array,
  ints: number,
  announce?: (base: number, ints: number, retiredAtGen: number) => void,
): number {
  const count = Atomics.load(words, H_FREE_COUNT);
  if (count === 0) return -1;
  const oldest = oldestActiveGeneration(words);
  for (let r = 0; r < count; r++) {
    const rec = freeRecordAt(r);
    const size = Atomics.load(words, rec + FREE_REGION_SIZE);
    const retiredAt = Atomics.load(words, rec + FREE_REGION_RETIRED_GEN);
    if (size >= ints && oldest >= retiredAt) {
      const base = Atomics.load(words, rec + FREE_REGION_BASE);
      announce?.(base, size, retiredAt);
      if (size > ints) {
        // Keep the tail as a smaller free region: SIZE first, so the record never reaches past its old end.
        Atomics.store(words, rec + FREE_REGION_SIZE, size - ints);
        Atomics.store(words, rec + FREE_REGION_BASE, base + ints);
      } else {
        removeFreeRegion(words, r, count);
      }
      return base;
    }
  }
  return -1;
}

/**
 * The free-list record that ends exactly at the allocation top (ALLOC_TOP)
 * and, unless `includePinned`, that no writer can still be in: the index of
 * its record, or -1. Such a region and the room above it are one run of free
 * words (a table placed lower down at maxBytes retires the one above it, so
 * the map alternates between a low and a high region), and
 * takeFreeRegionAtTop hands them out as one. Caller must own the ALLOCATING phase.
 */
export function freeRecordAtTop(words: Int32Array, includePinned: boolean): number {
  const count = Atomics.load(words, H_FREE_COUNT);
  if (count === 0) return -1;
  const top = Atomics.load(words, H_ALLOC_TOP);
  const oldest = reusableThrough(words, includePinned);
  for (let r = 0; r < count; r++) {
    const rec = freeRecordAt(r);
    const size = Atomics.load(words, rec + FREE_REGION_SIZE);
    if (size > 0 && Atomics.load(words, rec + FREE_REGION_BASE) + size === top && oldest >= Atomics.load(words, rec + FREE_REGION_RETIRED_GEN)) return r;
  }
  return -1;
}

/** Words of the freeRecordAtTop region (0 when there is none): what it adds to bumpRoomInts when a table takes both. */
export function freeRegionAtTopInts(words: Int32Array, includePinned: boolean): number {
  const r = freeRecordAtTop(words, includePinned);
  return r < 0 ? 0 : Atomics.load(words, freeRecordAt(r) + FREE_REGION_SIZE);
}

/**
 * Take `ints` words starting at the freeRecordAtTop region (no writer can
 * still be in it) and running on past the top: the region's words and bump-
 * allocated ones above it, in one piece. Steps: `announce` the whole record
 * (as takeFreeRegion does), grow the memory, CAS ALLOC_TOP from the region's
 * end to base + ints, `announce` all `ints` words, then remove the record. A
 * CAS that fails (another writer bumped an arena block meanwhile) changes
 * nothing and returns undefined, as do a region of `ints` words or more
 * (takeFreeRegion's case), none at the top, and a run past maxBytes. A thread
 * stopped between the CAS and the second announcement leaks the words above
 * the old top (the first still gives the record's words back), as a bump
 * allocation stopped before its announcement does. Returns the base and the
 * record's retirement generation. Caller must own the ALLOCATING phase.
 */
export function takeFreeRegionAtTop(
  words: Int32Array,
  memory: SharedMemory,
  ints: number,
  announce?: (base: number, ints: number, retiredAtGen: number) => void,
): { base: number; retiredAtGen: number } | undefined {
  const r = freeRecordAtTop(words, false);
  if (r < 0) return undefined;
  const rec = freeRecordAt(r);
  const base = Atomics.load(words, rec + FREE_REGION_BASE);
  const size = Atomics.load(words, rec + FREE_REGION_SIZE);
  const retiredAtGen = Atomics.load(words, rec + FREE_REGION_RETIRED_GEN);
  const top = base + size;
  const end = base + ints;
  if (size >= ints || end * INT_BYTES > memory.maxByteLength) return undefined;
  announce?.(base, size, retiredAtGen);
  ensureBytes(memory, end * INT_BYTES);
  if (Atomics.compareExchange(words, H_ALLOC_TOP, top, end) !== top) return undefined;
  announce?.(base, ints, retiredAtGen); // the words above the old top are this thread's now
  removeFreeRegion(words, r, Atomics.load(words, H_FREE_COUNT));
  return { base, retiredAtGen };
}

/** ALLOC_TOP rounded up to `alignInts`: where the next aligned bump allocation would start. */
export function alignedTop(words: Int32Array, alignInts: number): number {
  return Math.ceil(Atomics.load(words, H_ALLOC_TOP) / alignInts) * alignInts;
}

/** The end of the run of free words at the top: maxBytes in words, rounded down to `alignInts`. */
export function topRunEnd(memory: SharedMemory, alignInts: number): number {
  return Math.floor(memory.maxByteLength / INT_BYTES / alignInts) * alignInts;
}

/** Words from alignedTop to topRunEnd: the never-allocated part of the run at the top (bumpRoomInts with the end aligned too). */
export function topRunRoomInts(words: Int32Array, memory: SharedMemory, alignInts: number): number {
  return Math.max(0, topRunEnd(memory, alignInts) - alignedTop(words, alignInts));
}

/**
 * Take the last `ints` words of the run of free words at the top (from the
 * freeRecordAtTop region, no writer can still be in it, or else from ALLOC_TOP,
 * to topRunEnd), leaving the words below them free: so that they lie next to
 * the table below the run, and merge with its region when it retires (at
 * maxBytes the tables alternate between the two regions; this is how their
 * sizes even out, see migration.ts fittingBuckets). Steps: `announce` the
 * freeRecordAtTop record (if any, as takeFreeRegion does), grow the memory to
 * the end of the run, CAS ALLOC_TOP to it, `announce` the whole run, then
 * list the words left below the table: the record's SIZE set to them (or the
 * record removed when none are left), or a new record (retired at generation
 * 0) when there was none.
 * Only for maps whose memory holds tables alone (no arena blocks, so nobody
 * else moves ALLOC_TOP and it stays aligned): a CAS that fails anyway, a run
 * shorter than `ints`, a top not aligned to `alignInts` and, when `runStart`
 * is given, a run that does not start there change nothing and return
 * undefined. A thread stopped between the CAS and the second
 * announcement leaks the words above the old top. Returns the base
 * and the retirement generation of the record it took words of (0 for none).
 * Caller must own the ALLOCATING phase.
 */
export function takeTopRunEnd(
  words: Int32Array,
  memory: SharedMemory,
  ints: number,
  alignInts: number,
  announce?: (base: number, ints: number, retiredAtGen: number) => void,
  runStart?: number,
): { base: number; retiredAtGen: number } | undefined {
  const top = Atomics.load(words, H_ALLOC_TOP);
  if (top % alignInts !== 0) return undefined;
  const r = freeRecordAtTop(words, false);
  const rec = r < 0 ? -1 : freeRecordAt(r);
  const runBase = rec < 0 ? top : Atomics.load(words, rec + FREE_REGION_BASE);
  if (runStart !== undefined && runBase !== runStart) return undefined;
  const end = topRunEnd(memory, alignInts);
  const base = end - ints;
  if (base < runBase) return undefined;
  const retiredAtGen = rec < 0 ? 0 : Atomics.load(words, rec + FREE_REGION_RETIRED_GEN);
  if (rec >= 0) announce?.(runBase, top - runBase, retiredAtGen);
  if (end > top) {
    ensureBytes(memory, end * INT_BYTES);
    if (Atomics.compareExchange(words, H_ALLOC_TOP, top, end) !== top) return undefined;
  }
  // The words [top, end) are this thread's now: the table's, and those below it free.
  announce?.(runBase, end - runBase, retiredAtGen);
  const rest = base - runBase;
  if (rec >= 0) {
    if (rest > 0) Atomics.store(words, rec + FREE_REGION_SIZE, rest);
    else removeFreeRegion(words, r, Atomics.load(words, H_FREE_COUNT));
  } else if (rest > 0) {
    retireRegion(words, runBase, rest, 0);
  }
  return { base, retiredAtGen };
}

/**
 * Announce that the migration owner is taking its table for generation
 * `forGen` (the one it is allocating) out of `ints` free words at `base`: a
 * free-list record retired at `retiredAtGen`, or bump-allocated words (0), so
 * that recovery can list them again if it dies before publishing the table.
 * FOR is stored last: recovery reads the other words only when it matches.
 */
export function announceAllocation(words: Int32Array, forGen: number, base: number, ints: number, retiredAtGen: number): void {
  Atomics.store(words, H_ALLOC_PENDING + ALLOC_PENDING_FOR, 0);
  Atomics.store(words, H_ALLOC_PENDING + ALLOC_PENDING_BASE, base);
  Atomics.store(words, H_ALLOC_PENDING + ALLOC_PENDING_INTS, ints);
  Atomics.store(words, H_ALLOC_PENDING + ALLOC_PENDING_RETIRED_GEN, retiredAtGen);
  Atomics.store(words, H_ALLOC_PENDING + ALLOC_PENDING_FOR, forGen + 1);
}

/** The announced region for table `forGen`, or undefined when none is (announceAllocation). */
export function announcedAllocation(words: Int32Array, forGen: number): FreeRegion | undefined {
  if (Atomics.load(words, H_ALLOC_PENDING + ALLOC_PENDING_FOR) !== forGen + 1) return undefined;
  return {
    base: Atomics.load(words, H_ALLOC_PENDING + ALLOC_PENDING_BASE),
    ints: Atomics.load(words, H_ALLOC_PENDING + ALLOC_PENDING_INTS),
    retiredAtGen: Atomics.load(words, H_ALLOC_PENDING + ALLOC_PENDING_RETIRED_GEN),
  };
}

/** The announced region is published (or given back): nothing to give back any more. */
export function clearAnnouncedAllocation(words: Int32Array): void {
  Atomics.store(words, H_ALLOC_PENDING + ALLOC_PENDING_FOR, 0);
}

/** One free region: `ints` words from `base`, reusable once no writer announces a generation below `retiredAtGen`. */
export interface FreeRegion {
  readonly base: number;
  readonly ints: number;
  readonly retiredAtGen: number;
}

/** The free list's records (FREE_COUNT of them), as they are. */
export function freeRegions(words: Int32Array): FreeRegion[] {
  const regions: FreeRegion[] = [];
  const count = Atomics.load(words, H_FREE_COUNT);
  for (let r = 0; r < count; r++) {
    const rec = freeRecordAt(r);
    regions.push({
      base: Atomics.load(words, rec + FREE_REGION_BASE),
      ints: Atomics.load(words, rec + FREE_REGION_SIZE),
      retiredAtGen: Atomics.load(words, rec + FREE_REGION_RETIRED_GEN),
    });
  }
  return regions;
}

/**
 * Rewrite the free list as the union of its records and `add`, less
 * `exclude`: disjoint regions, neighbours merged (the latest retirement
 * generation of what was merged), the FREE_REGION_MAX largest kept. For
 * recovery of a dead owner (recovery.ts), whose records may overlap or repeat
 * but list only free words (module comment); `add` are free regions the list
 * may lack (the dead owner's announced region, a table its flip retires) and
 * `exclude` the tables in use. The rewrite keeps the same invariant at every
 * store (SIZE 0 first, SIZE last, FREE_COUNT at the end), so a recovery that
 * dies half-way leaves a list that lists no word in use, which the next one
 * can rebuild; it is not lossless, though: a record overwritten before its
 * words were rewritten elsewhere is lost (leaked). Caller holds the
 * migration control for the dead owner (recovery.ts).
 */
export function rebuildFreeList(words: Int32Array, add: readonly FreeRegion[], exclude: readonly { base: number; ints: number }[]): void {
  const pieces = [...freeRegions(words), ...add].filter((r) => r.ints > 0).sort((a, b) => a.base - b.base);
  let merged: { base: number; end: number; gen: number }[] = [];
  for (const r of pieces) {
    const last = merged[merged.length - 1];
    if (last !== undefined && r.base <= last.end) {
      last.end = Math.max(last.end, r.base + r.ints);
      last.gen = Math.max(last.gen, r.retiredAtGen);
    } else {
      merged.push({ base: r.base, end: r.base + r.ints, gen: r.retiredAtGen });
    }
  }
  for (const x of exclude) {
    const xEnd = x.base + x.ints;
    merged = merged.flatMap((m) => {
      if (xEnd <= m.base || x.base >= m.end) return [m];
      const parts = [];
      if (m.base < x.base) parts.push({ base: m.base, end: x.base, gen: m.gen });
      if (xEnd < m.end) parts.push({ base: xEnd, end: m.end, gen: m.gen });
      return parts;
    });
  }
  const kept = merged
    .sort((a, b) => b.end - b.base - (a.end - a.base))
    .slice(0, FREE_REGION_MAX)
    .sort((a, b) => a.base - b.base);
  const count = Atomics.load(words, H_FREE_COUNT);
  kept.forEach((m, r) => {
    const rec = freeRecordAt(r);
    Atomics.store(words, rec + FREE_REGION_SIZE, 0);
    Atomics.store(words, rec + FREE_REGION_BASE, m.base);
    Atomics.store(words, rec + FREE_REGION_RETIRED_GEN, m.gen);
    Atomics.store(words, rec + FREE_REGION_SIZE, m.end - m.base);
  });
  // Records left between kept.length and the old count are old ones (free words) until this store.
  if (kept.length !== count) Atomics.store(words, H_FREE_COUNT, kept.length);
}

/**
 * Words of the largest retired region that takeFreeRegion could hand out now
 * (no writer can still be in it), or with `includePinned` of the largest one
 * at all, also one that a writer announcing an older generation may still be
 * in; 0 when there is none. Caller must own the ALLOCATING phase.
 */
export function largestFreeRegionInts(words: Int32Array, includePinned: boolean): number {
  const count = Atomics.load(words, H_FREE_COUNT);
  const oldest = count === 0 ? Infinity : reusableThrough(words, includePinned);
  let largest = 0;
  for (let r = 0; r < count; r++) {
    const rec = freeRecordAt(r);
    const size = Atomics.load(words, rec + FREE_REGION_SIZE);
    if (size > largest && oldest >= Atomics.load(words, rec + FREE_REGION_RETIRED_GEN)) largest = size;
  }
  return largest;
}

/**
 * Words that bumpAllocate could still hand out, aligned to `alignInts`, before
 * maxBytes. A snapshot: other writers may bump the top meanwhile (arena blocks),
 * and bumpAllocate then fails as it would have anyway.
 */
export function bumpRoomInts(words: Int32Array, memory: SharedMemory, alignInts = 1): number {
  return Math.max(0, Math.floor(memory.maxByteLength / INT_BYTES) - alignedTop(words, alignInts));
}

/** Remove record r of `count`: SIZE 0 first, then the last record moves into its place (module comment). */
function removeFreeRegion(words: Int32Array, r: number, count: number): void {
  const rec = freeRecordAt(r);
  Atomics.store(words, rec + FREE_REGION_SIZE, 0);
  const last = freeRecordAt(count - 1);
  if (last !== rec) {
    Atomics.store(words, rec + FREE_REGION_BASE, Atomics.load(words, last + FREE_REGION_BASE));
    Atomics.store(words, rec + FREE_REGION_RETIRED_GEN, Atomics.load(words, last + FREE_REGION_RETIRED_GEN));
    Atomics.store(words, rec + FREE_REGION_SIZE, Atomics.load(words, last + FREE_REGION_SIZE));
  }
  Atomics.store(words, H_FREE_COUNT, count - 1);
}

/**
 * Record a retired region for reuse. Adjacent regions are merged (in place,
 * in the order the module comment gives). When the list is full the smallest
 * region is forgotten (its words stay allocated but unused).
 * Caller must be the flipper of generation `retiredAtGen - 1`.
 */
export function retireRegion(words: Int32Array, base: number, ints: number, retiredAtGen: number): void {
  let count = Atomics.load(words, H_FREE_COUNT);
  const end = base + ints;
  let below = -1;
  let above = -1;
  for (let r = 0; r < count; r++) {
    const rec = freeRecordAt(r);
    const otherBase = Atomics.load(words, rec + FREE_REGION_BASE);
    const otherSize = Atomics.load(words, rec + FREE_REGION_SIZE);
    if (otherSize === 0) continue;
    if (otherBase + otherSize === base) below = r;
    else if (otherBase === end) above = r;
  }
  const raiseGen = (rec: number, gen: number): void => {
    if (Atomics.load(words, rec + FREE_REGION_RETIRED_GEN) < gen) Atomics.store(words, rec + FREE_REGION_RETIRED_GEN, gen);
  };
  if (below >= 0) {
    const rec = freeRecordAt(below);
    raiseGen(rec, retiredAtGen);
    Atomics.store(words, rec + FREE_REGION_SIZE, Atomics.load(words, rec + FREE_REGION_SIZE) + ints);
    if (above >= 0) {
      // The region bridged a gap: the record below grows over the one above (listed twice
      // for a moment), which is then removed.
      const up = freeRecordAt(above);
      raiseGen(rec, Atomics.load(words, up + FREE_REGION_RETIRED_GEN));
      Atomics.store(words, rec + FREE_REGION_SIZE, Atomics.load(words, rec + FREE_REGION_SIZE) + Atomics.load(words, up + FREE_REGION_SIZE));
      removeFreeRegion(words, above, count);
    }
    return;
  }
  if (above >= 0) {
    const rec = freeRecordAt(above);
    raiseGen(rec, retiredAtGen);
    const size = Atomics.load(words, rec + FREE_REGION_SIZE);
    Atomics.store(words, rec + FREE_REGION_BASE, base); // lists [base, base + size): free words only
    Atomics.store(words, rec + FREE_REGION_SIZE, ints + size);
    return;
  }
  if (count === FREE_REGION_MAX) {
    let smallest = 0;
    for (let r = 1; r < count; r++) {
      if (Atomics.load(words, freeRecordAt(r) + FREE_REGION_SIZE) < Atomics.load(words, freeRecordAt(smallest) + FREE_REGION_SIZE)) smallest = r;
    }
    removeFreeRegion(words, smallest, count);
    count--;
  }
  const rec = freeRecordAt(count);
  Atomics.store(words, rec + FREE_REGION_BASE, base);
  Atomics.store(words, rec + FREE_REGION_SIZE, ints);
  Atomics.store(words, rec + FREE_REGION_RETIRED_GEN, retiredAtGen);
  Atomics.store(words, H_FREE_COUNT, count + 1);
}
