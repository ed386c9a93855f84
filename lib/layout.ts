/**
 * Memory layout of a flatshare map. This file is the ONLY place where word
 * indices and sizes are defined; every other module names them from here.
 *
 * The whole map lives in one shared WebAssembly.Memory (memory.ts), viewed from
 * JS as Int32 words through its SharedArrayBuffer and read by the int32 read
 * paths in WebAssembly (wasm/read-bucket.wat, write-bucket.wat), which address bytes: word i is
 * byte 4 * i there.
 * Every position below is an Int32 index ("*Index"/"*Ints"), never a byte
 * offset, unless the name says "Bytes".
 *
 * ```
 *  word 0                                                            buffer end
 *  +--------+-------------------+----------------+--------+---------+---- - - -
 *  | header | writer records    | table region A | ...    | region B| (grows)
 *  +--------+-------------------+----------------+--------+---------+---- - - -
 *  ^ HEADER_INTS words          ^ MAX_WRITERS x WRITER_RECORD_INTS   ^ ALLOC_TOP
 *
 *  Header (HEADER_INTS = 256 words, 1 KiB; hot words on their own 64-byte line):
 *  +0   MAGIC              'FLSH' (0x464c5348)
 *  +1   LAYOUT_VERSION     bumped on every incompatible change
 *  +2   KEY_KIND           KeyKindCode
 *  +3   VALUE_KIND         ValueKindCode
 *  +4   LANE_INTS          words per lane (depends on the kinds; bucket.ts lanesFor)
 *  +5   MAX_INTS           maxBytes / 4 (the buffer never grows past it)
 *  +6   INITIAL_BUCKETS    buckets of the first table (clear() returns to it)
 *  +7   HASHER_SEED        seed of the hasher, as int32
 *  +8   HASHER_ID_BYTES    length of the hasher id
 *  +9 .. +24  HASHER_ID    hasher id, UTF-8, 64 bytes max
 *  +25, +26 MAP_ID         two random words naming this map (per-thread caches key on it)
 *  +32  EPOCH              generation << 2 | phase                (line 1)
 *  +48  ALLOC_TOP          next free word (bump allocator)        (line 2)
 *  +64  TABLE_DESC[0]      { base word, buckets }                 (line 3)
 *  +66  TABLE_DESC[1]        table of generation g is TABLE_DESC[g & 1]
 *  +80  MIG_CURSOR         tag << CURSOR_TAG_SHIFT | next chunk   (line 4)
 *  +96  MIG_OWNER          record tag of the thread allocating or flipping; 0 = none (line 5)
 *  +112 FREE_COUNT         number of retired regions below        (line 6)
 *  +113 FREE_REGIONS       FREE_REGION_MAX x { base, ints, retiredAtGen }
 *  +209 RECOVERY_LOCK      threadId + 1 of the thread running recovery; 0 = none
 *  +210 ALLOC_PENDING      { for, base, ints, retiredAtGen }: the region taken for the table being allocated
 *
 *  Writer record (WRITER_RECORD_INTS = 16 words = one cache line per writing thread):
 *  +0  OWNER        threadId + 1 of the thread using it; 0 = free
 *  +1  ACTIVE_GEN   generation + 1 whose table this writer may touch; 0 = idle
 *  +2  LOCK_AT      SEQ word index of the bucket it is locking or holds; 0 = none
 *  +3  LOCK_SEQ     the even SEQ value that bucket had before the lock
 *  +4  STATUS       0 live, RECORD_DEAD once recovery knows the thread is gone
 *  +5  INTENT       INTENT_* op (| INTENT_SIZED) committed for the held lock; 0 = none
 *  +6  INTENT_TABLE base of the table whose SIZE the intent adjusts
 *  +7  (reserved)
 *  +8  INTENT_PAYLOAD  LANE_INFO (lane, its state before), then the lane's new words (bucket-write.ts)
 *
 *  Table region (tableRegionInts: TABLE_HEADER_INTS + capacity x SLOT_INTS + chunk words):
 *  +0   SIZE        live entries in this table                    (line 0)
 *  +16  REMAINING   inserts into EMPTY lanes left before a resize (line 1)
 *  +32  bucket 0, bucket 1, ... bucket buckets-1 (TABLE_BUCKET_INTS = 16 words each, bucket.ts)
 *  then one CHUNK_STATE word per MIGRATION_CHUNK_BUCKETS buckets, used when this
 *  table is migrated out: 0 unclaimed, CHUNK_CLAIMED | tag, CHUNK_DONE | entries
 *
 *  Bucket (TABLE_BUCKET_INTS = 16 words = one line; protocol in bucket.ts):
 *  +0  SEQ    seqlock word of the bucket (seqlock.ts; its reserved bits stay 0)
 *  +1  META   OCCUPIED bits 0..lanes-1 | TOMBSTONE bits 8.. | OVERFLOW bit 16
 *  +2  ...    the lanes in columns: column c of lane l at word 2 + c * lanes + l
 *  A lane's columns: int32 key: KEY (C_KEY), then the value words;
 *  string key: HASH (C_HASH, the full 32-bit hash: migration never rehashes),
 *  KEY_REF (C_KEY_REF, the key's arena block), then the value words.
 *  Value words: int32 1; float64 2 (low, high); string, bytes, json 1 (a block index).
 *  Lanes per bucket: floor(14 / LANE_INTS): int32 -> int32 7, int32 -> float64 4,
 *  string -> int32 / arena 4, string -> float64 3.
 *
 *  Arena class record (ARENA_CLASS_INTS = 2 words, one per size class, after the
 *  writer records):
 *  +0 FREE_HEAD  block index of the first free block of the class; 0 = none
 *  +1 LOCK       threadId + 1 of the thread editing the list; 0 = unlocked
 *
 *  Arena block (ARENA_CLASS_SIZES[c] words, bump-allocated like table regions):
 *  +0 HEADER   payload byte length << BLOCK_TAG_BITS | encoding tag
 *  +1 ...      payload bytes (little-endian), padded to a whole word;
 *              while the block is free, word +1 links to the next free block
 * ```
 *
 * Sizing notes:
 * - An int32->int32 lane is 64/7 = 9.1 bytes; at the 0.8 maximum load a
 *   presized table costs 11.4 bytes per entry, inside the 16 bytes/entry target.
 * - Cache-line padding only for words that many threads write (EPOCH,
 *   ALLOC_TOP, the migration counters, SIZE and REMAINING), so a reader's
 *   epoch load does not share a line with counters that writers hammer.
 */

/** An index into the map's Int32Array view. Never a byte offset. */
export type IntIndex = number & { readonly __brand: 'flatshare IntIndex' };
/** A byte offset into the SharedArrayBuffer. Never an Int32 index. */
export type ByteOffset = number & { readonly __brand: 'flatshare ByteOffset' };

export const INT_BYTES = Int32Array.BYTES_PER_ELEMENT; // 4
/** Words in a 64-byte cache line. */
export const CACHE_LINE_INTS = 64 / INT_BYTES; // 16

export function toByteOffset(index: IntIndex): ByteOffset {
  return (index * INT_BYTES) as ByteOffset;
}
export function intIndex(n: number): IntIndex {
  return n as IntIndex;
}

// ---- identity ---------------------------------------------------------------

/** 'FLSH' in ASCII, big-endian reading order. */
export const MAGIC = 0x464c5348;
/**
 * Bump on any change to a word's meaning or to how the memory is held; attach
 * refuses other versions. 3: the map lives in a shared WebAssembly.Memory (the
 * handle carries `memory`, not a growable SharedArrayBuffer); the words are as in 2.
 * 4: MAX_WRITERS 128 (was 256), so the arena and the first table start 8 KiB lower.
 * 5: a table has any number of slots, not only a power of two, and a key's home
 * slot is floor(hash * capacity / 2^32) (table.ts); for a power-of-two capacity
 * that is the same slot as in 4, but a 4 reader would misplace keys of other sizes.
 * 6: a table is an array of 64-byte buckets of lanes (bucket.ts), one seqlock
 * word per bucket, instead of slots with one seq word each (docs/design.md §10);
 * header word 4 holds the words per lane, the descriptors and INITIAL count buckets.
 */
export const LAYOUT_VERSION = 6;

// ---- header -----------------------------------------------------------------

export const H_MAGIC = 0; // MAGIC
export const H_LAYOUT_VERSION = H_MAGIC + 1; // LAYOUT_VERSION
export const H_KEY_KIND = H_LAYOUT_VERSION + 1; // KeyKindCode
export const H_VALUE_KIND = H_KEY_KIND + 1; // ValueKindCode
export const H_LANE_INTS = H_VALUE_KIND + 1; // words per lane
export const H_MAX_INTS = H_LANE_INTS + 1; // maxBytes / INT_BYTES
export const H_INITIAL_BUCKETS = H_MAX_INTS + 1; // buckets of the first table
export const H_HASHER_SEED = H_INITIAL_BUCKETS + 1; // hasher seed (int32)
export const H_HASHER_ID_BYTES = H_HASHER_SEED + 1; // byte length of the hasher id
export const H_HASHER_ID = H_HASHER_ID_BYTES + 1; // hasher id bytes start here
/** Longest hasher id, in UTF-8 bytes. */
export const HASHER_ID_MAX_BYTES = 64;
const HASHER_ID_END = H_HASHER_ID + HASHER_ID_MAX_BYTES / INT_BYTES;
/** Two random words that identify this map across threads. */
export const H_MAP_ID = HASHER_ID_END; // 25
export const MAP_ID_INTS = 2;

/** Epoch word: generation and migration phase, see epoch.ts. Own cache line. */
export const H_EPOCH = 2 * CACHE_LINE_INTS; // 32
/** Bump allocator: next free word index. Own cache line. */
export const H_ALLOC_TOP = H_EPOCH + CACHE_LINE_INTS; // 48
/** Two table descriptors; generation g uses TABLE_DESC[g & 1]. */
export const H_TABLE_DESC = H_ALLOC_TOP + CACHE_LINE_INTS; // 64
export const TABLE_DESC_BASE = 0; // word index of the table region
export const TABLE_DESC_BUCKETS = 1; // buckets (any number from MIN_BUCKETS to MAX_BUCKETS)
export const TABLE_DESC_INTS = 2;
/** Migration chunk cursor (tagged with the generation, see epoch.ts). Own line. */
export const H_MIG_CURSOR = H_TABLE_DESC + CACHE_LINE_INTS; // 80
/**
 * Record tag (record number + 1, see writers.ts) of the one thread that owns
 * the migration control: it is taken before STABLE -> ALLOCATING and before
 * the flip, and cleared after. Recovery uses it to find a dead allocator or
 * flipper. Own line: helpers CAS it at the end of every migration.
 */
export const H_MIG_OWNER = H_MIG_CURSOR + CACHE_LINE_INTS; // 96
/** Number of retired table regions recorded in FREE_REGIONS. */
export const H_FREE_COUNT = H_MIG_OWNER + CACHE_LINE_INTS; // 112
/** Retired regions: FREE_REGION_MAX records of FREE_REGION_INTS words. */
export const H_FREE_REGIONS = H_FREE_COUNT + 1; // 113
export const FREE_REGION_BASE = 0; // word index of the region
export const FREE_REGION_SIZE = 1; // region length in words
export const FREE_REGION_RETIRED_GEN = 2; // generation whose flip retired it
export const FREE_REGION_INTS = 3;
/** Retired regions remembered for reuse; older ones are forgotten (leaked) past this. */
export const FREE_REGION_MAX = 32;
/** threadId + 1 of the thread running recovery (recovery.ts); 0 = none. */
export const H_RECOVERY_LOCK = H_FREE_REGIONS + FREE_REGION_MAX * FREE_REGION_INTS; // 209
/**
 * The region the migration owner has taken for table g+1 and not yet
 * published (memory.ts announceAllocation): { for, base, ints, retiredAtGen }.
 * ALLOC_PENDING_FOR is g + 1 (never 0: generations start at 0), written last,
 * so 0 means none; recovery gives the region back when the owner died in
 * ALLOCATING (recovery.ts). These words were unused (always 0) before, so
 * the layout version did not change.
 */
export const H_ALLOC_PENDING = H_RECOVERY_LOCK + 1; // 210
export const ALLOC_PENDING_FOR = 0; // generation of the table being allocated (g + 1); 0 = none
export const ALLOC_PENDING_BASE = 1;
export const ALLOC_PENDING_INTS = 2;
export const ALLOC_PENDING_RETIRED_GEN = 3; // the free-list record's, or 0 for bump-allocated words
export const ALLOC_PENDING_WORDS = 4;
/** Header size in words. 1 KiB; everything above must fit. */
export const HEADER_INTS = 256;

// ---- writer records -----------------------------------------------------------

export const W_OWNER = 0; // threadId + 1; 0 = free
export const W_ACTIVE_GEN = W_OWNER + 1; // generation + 1 the writer is working in; 0 = idle
export const W_LOCK_AT = W_ACTIVE_GEN + 1; // SEQ word index of the bucket it locks; 0 = none (word 0 is MAGIC)
export const W_LOCK_SEQ = W_LOCK_AT + 1; // even SEQ value of that bucket before the lock
export const W_STATUS = W_LOCK_SEQ + 1; // RECORD_LIVE or RECORD_DEAD
export const W_INTENT = W_STATUS + 1; // INTENT_* | INTENT_SIZED, or INTENT_NONE
export const W_INTENT_TABLE = W_INTENT + 1; // base of the table whose SIZE the intent adjusts
/** First word of the intent payload: LANE_INFO, then the lane's new words (bucket-write.ts P_LANE_INFO, P_LANE_WORDS). */
export const W_INTENT_PAYLOAD = W_INTENT_TABLE + 2; // 8
/**
 * Payload words an intent can hold: LANE_INFO plus the largest lane (string ->
 * float64, 4 words): 5; 8 leaves room for other kinds without a layout change.
 */
export const INTENT_PAYLOAD_INTS = 8;
/** Words per writer record: one 64-byte line, so writers never share a line. */
export const WRITER_RECORD_INTS = W_INTENT_PAYLOAD + INTENT_PAYLOAD_INTS; // 16

/** W_STATUS values. */
export const RECORD_LIVE = 0;
export const RECORD_DEAD = 1;

/** W_INTENT values: what recovery completes if the owner dies holding the lock. */
export const INTENT_NONE = 0; // nothing written yet: recovery restores LOCK_SEQ (roll back)
export const INTENT_PUT = 1; // write the payload, release FULL, SIZE + 1 unless it was FULL
export const INTENT_DELETE = 2; // release TOMBSTONE, SIZE - 1
export const INTENT_COPY = 3; // migration copy into a new table: write the payload, release FULL
/** Flag on W_INTENT: the intent's SIZE adjustment is done (so recovery must not repeat it). */
export const INTENT_SIZED = 4;
export const INTENT_OP_MASK = 3;
/**
 * Writer records in a map: the most threads that can write to one map at once.
 * 128, not more: the records are part of every map's fixed part, and with 128
 * a default-capacity int32 -> int32 map holds up to 2,150 entries (five
 * resizes, layout 6; 1,638 in layout 5) in its first 64 KiB page (checked by
 * spec/unit/growth.test.ts); with 256 records layout 4 needed a 1 MiB grow at 820
 * entries, which cost ~40 % of filling a fresh 1k map (docs/design.md, section 1).
 */
export const MAX_WRITERS = 128;
/** First writer record. */
export const WRITERS_BASE = HEADER_INTS;

// ---- arena (variable-length keys and values, see arena.ts) -----------------

/** Block index 0 is inside the header, so 0 can mean "no block" (a null reference). */
export const NULL_BLOCK = 0;
/** Words before a block's payload: the header word. */
export const BLOCK_HEADER_INTS = 1;
/** Low bits of a block header that carry the encoding tag. */
export const BLOCK_TAG_BITS = 2;
export const BLOCK_TAG_MASK = (1 << BLOCK_TAG_BITS) - 1;
/** Encoding tags: one byte per UTF-16 code unit (all units <= 0xFF). */
export const TAG_LATIN1 = 0;
/** Encoding tags: two bytes per UTF-16 code unit, little-endian. */
export const TAG_UTF16 = 1;
/** Encoding tags: raw bytes (`values: 'bytes'`). */
export const TAG_BYTES = 2;
/** Longest key, in encoded bytes (64 KiB: 64Ki Latin-1 or 32Ki two-byte code units). */
export const MAX_KEY_BYTES = 1 << 16;
/** Longest value, in encoded bytes (16 MiB). */
export const MAX_VALUE_BYTES = 1 << 24;
/** Smallest block: the header plus the free-list link. */
export const MIN_BLOCK_INTS = 2;
/** Classes below this many words are exact sizes (2, 3, ... 8 words). */
export const EXACT_CLASS_LIMIT_INTS = 8;
/** Geometric classes: this many steps per doubling, so a block wastes < 25% (at most 1/(steps+1) of its size). */
export const CLASS_STEPS_PER_DOUBLING = 4;
/** Largest block: a MAX_VALUE_BYTES payload plus its header. */
export const MAX_BLOCK_INTS = BLOCK_HEADER_INTS + MAX_VALUE_BYTES / INT_BYTES;

/**
 * Block sizes in words, one per size class, ascending: 2..8 exactly, then
 * 8 * 2^k * (1 + j/4) for j = 1..4, up to the first size >= MAX_BLOCK_INTS.
 * 87 classes. A 16-character ASCII key (16 bytes + header = 5 words) takes an
 * exact 5-word block; a 1 KiB value (257 words) a 320-word block.
 */
export const ARENA_CLASS_SIZES: readonly number[] = (() => {
  const sizes: number[] = [];
  for (let n = MIN_BLOCK_INTS; n <= EXACT_CLASS_LIMIT_INTS; n++) sizes.push(n);
  for (let power = EXACT_CLASS_LIMIT_INTS; sizes[sizes.length - 1]! < MAX_BLOCK_INTS; power *= 2) {
    for (let step = 1; step <= CLASS_STEPS_PER_DOUBLING && sizes[sizes.length - 1]! < MAX_BLOCK_INTS; step++) {
      sizes.push(power + (power * step) / CLASS_STEPS_PER_DOUBLING);
    }
  }
  return sizes;
})();
export const ARENA_CLASSES = ARENA_CLASS_SIZES.length;
export const A_FREE_HEAD = 0; // block index of the first free block; NULL_BLOCK = empty list
export const A_LOCK = 1; // threadId + 1 of the thread editing the list; 0 = unlocked
/** Words per arena class record. */
export const ARENA_CLASS_INTS = 2;
/** First arena class record. */
export const ARENA_BASE = WRITERS_BASE + MAX_WRITERS * WRITER_RECORD_INTS;

/** First word after the fixed part (rounded up to a cache line); table regions and arena blocks are allocated from here on. */
export const FIXED_INTS =
  Math.ceil((ARENA_BASE + ARENA_CLASSES * ARENA_CLASS_INTS) / CACHE_LINE_INTS) * CACHE_LINE_INTS;

// ---- table region -----------------------------------------------------------

export const T_SIZE = 0; // live entries (FULL lanes) of this table
export const T_REMAINING = CACHE_LINE_INTS; // inserts into EMPTY lanes allowed before resize
/** Words before bucket 0 of a table region. */
export const TABLE_HEADER_INTS = 2 * CACHE_LINE_INTS;

// ---- lanes (a table is an array of buckets: bucket.ts) ---------------------

/** Lane columns: int32 keys, the key. */
export const C_KEY = 0;
/** Lane columns: string keys, the key's full 32-bit hash (migration never rehashes). */
export const C_HASH = 0;
/** Lane columns: string keys, the block index of the key's arena block. */
export const C_KEY_REF = 1;
export const INT32_KEY_INTS = 1;
export const STRING_KEY_INTS = 2; // HASH, KEY_REF
export const INT32_VALUE_INTS = 1;
export const FLOAT64_VALUE_INTS = 2;
export const REF_VALUE_INTS = 1; // string, bytes, json: a block index

/** Key kinds and their header codes. */
export const KeyKindCode = { int32: 1, string: 2 } as const;
/** Value kinds and their header codes. */
export const ValueKindCode = { int32: 1, float64: 2, string: 3, bytes: 4, json: 5 } as const;

export type KeyKind = keyof typeof KeyKindCode;
export type ValueKind = keyof typeof ValueKindCode;

/** Words a key of this kind takes in a lane. */
export function keyInts(kind: KeyKind): number {
  switch (kind) {
    case 'int32':
      return INT32_KEY_INTS;
    case 'string':
      return STRING_KEY_INTS;
  }
}

/** Words a value of this kind takes in a lane. */
export function valueInts(kind: ValueKind): number {
  switch (kind) {
    case 'int32':
      return INT32_VALUE_INTS;
    case 'float64':
      return FLOAT64_VALUE_INTS;
    case 'string':
    case 'bytes':
    case 'json':
      return REF_VALUE_INTS;
  }
}

/** Words per lane: the key words, the value words (H_LANE_INTS). */
export function laneInts(keys: KeyKind, values: ValueKind): number {
  return keyInts(keys) + valueInts(values);
}

/** True for value kinds stored in an arena block (the lane holds its block index). */
export function isRefValue(kind: ValueKind): boolean {
  return kind === 'string' || kind === 'bytes' || kind === 'json';
}

/** Column of the first value word of a lane. */
export function valueColumn(keys: KeyKind): number {
  return keyInts(keys);
}

// ---- tables -----------------------------------------------------------------

/** Words per bucket: one 64-byte cache line (bucket.ts BUCKET_INTS). */
export const TABLE_BUCKET_INTS = CACHE_LINE_INTS;

/**
 * Maximum load factor: OCCUPIED lanes (FULL + TOMBSTONE) / lanes before a
 * resize. 0.8: measured on buckets (docs/layout6.md), a table at 0.8 of its
 * lanes answers a 100k get hit ~10 % under Map.get and one at 0.6 ~20 %
 * slower (the fuller table keeps more of itself in the 1 MiB L2); tombstones
 * count, and misses stay cheap up to it (design.md §10, "Deletes and two
 * writers, measured").
 */
export const MAX_LOAD_NUMERATOR = 4;
export const MAX_LOAD_DENOMINATOR = 5;
/** Smallest table, in buckets. */
export const MIN_BUCKETS = 4;
/**
 * Largest table, in buckets: 2^25 buckets are 2 GiB, half of the largest map
 * (MAX_BYTES_LIMIT), so a resize can hold two tables; bucket indices times
 * TABLE_BUCKET_INTS stay far below 2^31.
 */
export const MAX_BUCKETS = 1 << 25;

/** Inserts into EMPTY lanes a table of `buckets` buckets of `lanes` lanes accepts before it must migrate. */
export function insertBudget(buckets: number, lanes: number): number {
  return Math.floor((buckets * lanes * MAX_LOAD_NUMERATOR) / MAX_LOAD_DENOMINATOR);
}

/**
 * Fewest buckets (at least MIN_BUCKETS, at most MAX_BUCKETS) whose insert
 * budget holds `entries`: ceil(entries * 5 / 4 / lanes), any number of
 * buckets (table.ts homeSlot), so a presized table starts at the maximum load.
 */
export function bucketsFor(entries: number, lanes: number): number {
  let buckets = Math.ceil((entries * MAX_LOAD_DENOMINATOR) / MAX_LOAD_NUMERATOR / lanes);
  buckets = Math.min(MAX_BUCKETS, Math.max(MIN_BUCKETS, buckets));
  while (buckets < MAX_BUCKETS && insertBudget(buckets, lanes) < entries) buckets++;
  return buckets;
}

/**
 * Old-table buckets per migration chunk. Chunks are claimed one at a time by
 * helpers; 128 buckets (384 to 896 lanes, 8 KiB) keep the per-claim CAS rare
 * and the work a dead helper leaves behind small.
 */
export const MIGRATION_CHUNK_BUCKETS = 128;
/** Migration chunks of a table of `buckets` buckets (one CHUNK_STATE word each). */
export function chunkCount(buckets: number): number {
  return Math.ceil(buckets / MIGRATION_CHUNK_BUCKETS);
}
/** Words reserved for the chunk states: chunkCount rounded up to whole cache lines, so regions stay line-aligned. */
export function chunkStateInts(buckets: number): number {
  return Math.ceil(chunkCount(buckets) / CACHE_LINE_INTS) * CACHE_LINE_INTS;
}
/** Chunk state: claimed by the record whose tag is in the low bits. */
export const CHUNK_CLAIMED = 0x4000_0000;
/** Chunk state: copied; the low bits count the entries it held. */
export const CHUNK_DONE = 0x2000_0000;
export const CHUNK_VALUE_MASK = CHUNK_DONE - 1;

/**
 * Words of a table region with `buckets` buckets, chunk states included:
 * whole cache lines. Table regions are allocated line-aligned, so a region
 * ends where the next one starts, every bucket is one line, and retired
 * neighbours merge (memory.ts retireRegion).
 */
export function tableRegionInts(buckets: number): number {
  return TABLE_HEADER_INTS + buckets * TABLE_BUCKET_INTS + chunkStateInts(buckets);
}

/**
 * Most buckets (at most MAX_BUCKETS) whose table region fits in `ints` words,
 * or 0 when not even MIN_BUCKETS fit. The inverse of tableRegionInts: the
 * estimate from the bucket words alone is an upper bound, walked down while
 * the chunk states do not fit.
 */
export function bucketsForRegionInts(ints: number): number {
  let buckets = Math.min(MAX_BUCKETS, Math.floor((ints - TABLE_HEADER_INTS) / TABLE_BUCKET_INTS));
  while (buckets >= MIN_BUCKETS && tableRegionInts(buckets) > ints) buckets--;
  return buckets >= MIN_BUCKETS ? buckets : 0;
}

/** Word index of the first chunk state of the table region at `base`. */
export function chunkStatesAt(base: number, buckets: number): number {
  return base + TABLE_HEADER_INTS + buckets * TABLE_BUCKET_INTS;
}

// ---- buffer -----------------------------------------------------------------

/** Largest map: a WebAssembly memory (memory32) holds at most 65,536 pages of 64 KiB = 2^32 bytes. */
export const MAX_BYTES_LIMIT = 2 ** 32;
/** Default maxBytes when the option is omitted: 1 GiB of address space, committed lazily. */
export const DEFAULT_MAX_BYTES = 2 ** 30;
/**
 * Buffer growth: a memory smaller than this doubles (64 KiB -> 128 KiB -> ...
 * -> 1 MiB), a larger one grows by this many bytes, and never by less than the
 * allocation needs. Doubling keeps small maps small (a 1k-entry string map
 * commits 128 KiB, not 1.06 MiB) and costs them fewer grown pages; the 1 MiB
 * steps amortize grow() for large maps (docs/design.md §1).
 */
export const GROW_STEP_BYTES = 1 << 20;
/** Default expected entries when `capacity` is omitted. */
export const DEFAULT_CAPACITY = 64;

/** True when the header words fit in HEADER_INTS (checked by a unit test). */
export const HEADER_FITS = H_MAP_ID + MAP_ID_INTS <= H_EPOCH && H_ALLOC_PENDING + ALLOC_PENDING_WORDS <= HEADER_INTS;
