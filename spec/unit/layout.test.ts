/**
 * Layout invariants (lib/layout.ts). These fail, they do not log: a header
 * word that overlaps another, a hot word that shares a cache line, or a slot
 * that grows past the bytes-per-entry target is a test failure.
 */
import test from 'ava';
import fc from 'fast-check';
import * as layout from '../../lib/layout.js';
import {
  CACHE_LINE_INTS,
  FIXED_INTS,
  FREE_REGION_INTS,
  FREE_REGION_MAX,
  H_ALLOC_TOP,
  H_EPOCH,
  H_MIG_CURSOR,
  HASHER_ID_MAX_BYTES,
  HEADER_FITS,
  HEADER_INTS,
  INT_BYTES,
  MAP_ID_INTS,
  MAX_CAPACITY,
  MAX_WRITERS,
  MIN_CAPACITY,
  S_KEY,
  S_SEQ,
  TABLE_DESC_INTS,
  TABLE_HEADER_INTS,
  T_REMAINING,
  T_SIZE,
  WRITERS_BASE,
  WRITER_RECORD_INTS,
  capacityFor,
  grownCapacityFor,
  insertBudget,
  slotInts,
  tableRegionInts,
  valueOffset,
  chunkCount,
  chunkStateInts,
} from '../../lib/layout.js';
import { writerRecordAt } from '../../lib/writers.js';
import { WASM_PAGE_BYTES, pagesFor } from '../../lib/memory.js';
import { SharedFlatMap } from '../../lib/index.js';

/** Words taken by header fields that are wider than one word; every other H_* is one word. */
const FIELD_INTS: Readonly<Record<string, number>> = {
  H_HASHER_ID: HASHER_ID_MAX_BYTES / INT_BYTES,
  H_MAP_ID: MAP_ID_INTS,
  H_TABLE_DESC: 2 * TABLE_DESC_INTS,
  H_FREE_REGIONS: FREE_REGION_MAX * FREE_REGION_INTS,
};

interface Field {
  name: string;
  start: number;
  ints: number;
}

/** Every exported H_* constant as a [start, start + ints) range. */
function headerFields(): Field[] {
  return Object.entries(layout)
    .filter((entry): entry is [string, number] => entry[0].startsWith('H_') && typeof entry[1] === 'number')
    .map(([name, start]) => ({ name, start, ints: FIELD_INTS[name] ?? 1 }))
    .sort((a, b) => a.start - b.start);
}

const lineOf = (index: number): number => Math.floor(index / CACHE_LINE_INTS);

test('HEADER_FITS is true', (t) => {
  t.true(HEADER_FITS);
});

test('header fields are integers, inside the header and do not overlap', (t) => {
  const fields = headerFields();
  // The multi-word fields must really be exported under these names, or FIELD_INTS is stale.
  for (const name of Object.keys(FIELD_INTS)) t.true(fields.some((f) => f.name === name), `${name} is exported`);
  t.true(fields.length >= 15, `found ${fields.length} H_* constants`);
  for (const f of fields) {
    t.true(Number.isInteger(f.start) && f.start >= 0, `${f.name} = ${f.start} is a word index`);
    t.true(f.start + f.ints <= HEADER_INTS, `${f.name} [${f.start}, ${f.start + f.ints}) ends inside the header`);
  }
  for (let i = 1; i < fields.length; i++) {
    const prev = fields[i - 1] as Field;
    const cur = fields[i] as Field;
    t.true(
      prev.start + prev.ints <= cur.start,
      `${prev.name} [${prev.start}, ${prev.start + prev.ints}) overlaps ${cur.name} at ${cur.start}`,
    );
  }
});

test('hot header words are on distinct 64-byte lines, and the epoch line holds nothing else', (t) => {
  const hot = { H_EPOCH, H_ALLOC_TOP, H_MIG_CURSOR, H_MIG_OWNER: layout.H_MIG_OWNER };
  const lines = Object.values(hot).map(lineOf);
  t.is(new Set(lines).size, lines.length, `lines ${JSON.stringify(lines)}`);
  t.is(CACHE_LINE_INTS * INT_BYTES, 64);
  // Readers load the epoch on every get: no other header field may share its line.
  const epochLine = lineOf(H_EPOCH);
  const sharing = headerFields().filter(
    (f) => f.name !== 'H_EPOCH' && lineOf(f.start) <= epochLine && lineOf(f.start + f.ints - 1) >= epochLine,
  );
  t.deepEqual(
    sharing.map((f) => f.name),
    [],
  );
  // The allocator top and the cursor are CASed by writers: each alone on its line too.
  for (const [name, index] of [
    ['H_ALLOC_TOP', H_ALLOC_TOP],
    ['H_MIG_CURSOR', H_MIG_CURSOR],
  ] as const) {
    const others = headerFields().filter(
      (f) => f.name !== name && lineOf(f.start) <= lineOf(index) && lineOf(f.start + f.ints - 1) >= lineOf(index),
    );
    t.deepEqual(
      others.map((f) => f.name),
      [],
      `${name} shares its line`,
    );
  }
});

test('slot sizes: int32->int32 is 3 words (12 bytes), int32->float64 is 4 words', (t) => {
  t.is(slotInts('int32', 'int32'), 3);
  t.is(slotInts('int32', 'int32') * INT_BYTES, 12);
  t.is(slotInts('int32', 'float64'), 4);
  t.is(S_SEQ, 0);
  t.is(S_KEY, 1);
  t.is(valueOffset('int32'), 2);
});

test('table header: SIZE and REMAINING on different lines, slots start after both', (t) => {
  t.not(lineOf(T_SIZE), lineOf(T_REMAINING));
  t.true(T_SIZE < TABLE_HEADER_INTS && T_REMAINING < TABLE_HEADER_INTS);
  t.is(TABLE_HEADER_INTS % CACHE_LINE_INTS, 0);
});

test('table regions stay cache-line aligned: every region length, for any capacity, is a multiple of a line', (t) => {
  t.is(FIXED_INTS % CACHE_LINE_INTS, 0);
  const strides = [slotInts('int32', 'int32'), slotInts('int32', 'float64'), slotInts('string', 'float64')];
  t.deepEqual(strides, [3, 4, 5]);
  const capacities: number[] = [];
  for (let capacity = MIN_CAPACITY; capacity <= MAX_CAPACITY; capacity *= 2) capacities.push(capacity, capacity + 1, capacity * 1.25 + 3);
  for (const capacity of [...capacities, 17, 23, 125_000, 1_250_000, MAX_CAPACITY - 1]) {
    if (capacity > MAX_CAPACITY) continue;
    for (const stride of strides) {
      const ints = tableRegionInts(capacity, stride);
      const exact = TABLE_HEADER_INTS + capacity * stride + chunkStateInts(capacity);
      if (ints < exact || ints - exact >= CACHE_LINE_INTS) t.fail(`region of ${capacity} x ${stride}: ${ints} words for ${exact}`);
      t.true(chunkStateInts(capacity) >= chunkCount(capacity), 'one chunk state word per chunk');
      // Whole lines: a retired region ends where the next line-aligned one starts, so neighbours merge.
      if (ints % CACHE_LINE_INTS !== 0) t.fail(`region of ${capacity} x ${stride} words is ${ints} words`);
    }
  }
  // The largest table's word indices stay far below 2^31.
  t.true(FIXED_INTS + 2 * tableRegionInts(MAX_CAPACITY, 4) < 2 ** 31);
});

test('writer records: fields distinct and inside a record; FIXED_INTS follows the last record', (t) => {
  const fields = [
    layout.W_OWNER,
    layout.W_ACTIVE_GEN,
    layout.W_LOCK_AT,
    layout.W_LOCK_SEQ,
    layout.W_STATUS,
    layout.W_INTENT,
    layout.W_INTENT_TABLE,
  ];
  t.is(new Set(fields).size, fields.length);
  for (const f of fields) t.true(f >= 0 && f < layout.W_INTENT_PAYLOAD);
  // The intent payload holds every payload word of the largest slot, and ends the record.
  t.true(layout.INTENT_PAYLOAD_INTS >= Math.max(slotInts('int32', 'int32'), slotInts('int32', 'float64')) - 1);
  t.is(layout.W_INTENT_PAYLOAD + layout.INTENT_PAYLOAD_INTS, WRITER_RECORD_INTS);
  // One record per 64-byte line: writers never share a line.
  t.is(WRITER_RECORD_INTS * INT_BYTES, 64);
  t.is(WRITERS_BASE % CACHE_LINE_INTS, 0);
  t.true(WRITERS_BASE >= HEADER_INTS);
  t.is(layout.ARENA_BASE, WRITERS_BASE + MAX_WRITERS * WRITER_RECORD_INTS);
  t.is(writerRecordAt(0), WRITERS_BASE);
  t.is(writerRecordAt(MAX_WRITERS - 1) + WRITER_RECORD_INTS, layout.ARENA_BASE);
  // The arena class records follow, then FIXED_INTS (rounded up to a cache line).
  const arenaEnd = layout.ARENA_BASE + layout.ARENA_CLASSES * layout.ARENA_CLASS_INTS;
  t.true(FIXED_INTS >= arenaEnd && FIXED_INTS - arenaEnd < CACHE_LINE_INTS);
});

test('capacityFor: the smallest capacity >= MIN_CAPACITY whose insert budget holds the entries, not rounded to a power of two', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: insertBudget(MAX_CAPACITY) }), (entries) => {
      const capacity = capacityFor(entries);
      return (
        Number.isInteger(capacity) &&
        capacity >= MIN_CAPACITY &&
        capacity <= MAX_CAPACITY &&
        insertBudget(capacity) >= entries &&
        (capacity === MIN_CAPACITY || insertBudget(capacity - 1) < entries)
      );
    }),
    { numRuns: 2000 },
  );
  t.is(capacityFor(0), MIN_CAPACITY);
  t.is(capacityFor(insertBudget(MIN_CAPACITY)), MIN_CAPACITY);
  t.is(capacityFor(insertBudget(MIN_CAPACITY) + 1), MIN_CAPACITY + 1, '13 entries: ceil(13 / 0.8) = 17 slots');
  t.is(capacityFor(100_000), 125_000, 'layout 4 rounded this up to 131,072');
  t.is(capacityFor(1_000_000), 1_250_000, 'layout 4 rounded this up to 2,097,152');
  t.is(capacityFor(insertBudget(MAX_CAPACITY)), MAX_CAPACITY);
});

test('grownCapacityFor: capacityFor rounded up to a power of two (tables that grow online, and the default first table)', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: insertBudget(MAX_CAPACITY) }), (entries) => {
      const capacity = grownCapacityFor(entries);
      return (
        (capacity & (capacity - 1)) === 0 &&
        capacity >= capacityFor(entries) &&
        capacity <= MAX_CAPACITY &&
        (capacity === MIN_CAPACITY || capacity / 2 < capacityFor(entries))
      );
    }),
    { numRuns: 2000 },
  );
  t.is(grownCapacityFor(64), 128, 'the default capacity (64 entries) gets 128 slots, as in layout 4');
  t.is(grownCapacityFor(100_000), 131_072);
  t.is(grownCapacityFor(insertBudget(MAX_CAPACITY)), MAX_CAPACITY);
});

test('capacityForRegionInts: the largest capacity whose table region fits, for every slot size', (t) => {
  const slotSizes = [slotInts('int32', 'int32'), slotInts('int32', 'float64'), slotInts('string', 'int32'), slotInts('string', 'float64')];
  fc.assert(
    fc.property(fc.integer({ min: 0, max: tableRegionInts(MAX_CAPACITY, 4) + 1_000 }), fc.constantFrom(...slotSizes), (ints, words) => {
      const capacity = layout.capacityForRegionInts(ints, words);
      if (capacity === 0) return tableRegionInts(MIN_CAPACITY, words) > ints;
      return (
        capacity >= MIN_CAPACITY &&
        capacity <= MAX_CAPACITY &&
        tableRegionInts(capacity, words) <= ints &&
        (capacity === MAX_CAPACITY || tableRegionInts(capacity + 1, words) > ints)
      );
    }),
    { numRuns: 5000 },
  );
  // Small regions, every size: exact at each boundary.
  for (const words of slotSizes) {
    for (let capacity = MIN_CAPACITY; capacity < 4 * MIN_CAPACITY; capacity++) {
      const ints = tableRegionInts(capacity, words);
      t.true(layout.capacityForRegionInts(ints, words) >= capacity, `${capacity} slots of ${words} words`);
      t.true(layout.capacityForRegionInts(ints - 1, words) < capacity || tableRegionInts(capacity - 1, words) === ints);
    }
    t.is(layout.capacityForRegionInts(tableRegionInts(MIN_CAPACITY, words) - 1, words), 0);
  }
});

test('insertBudget: monotone, and always leaves an EMPTY slot so probes terminate', (t) => {
  let previous = -1;
  for (let capacity = MIN_CAPACITY; capacity <= MAX_CAPACITY; capacity *= 2) {
    const budget = insertBudget(capacity);
    t.true(Number.isInteger(budget));
    t.true(budget > previous, `budget(${capacity}) = ${budget}`);
    t.true(budget < capacity, `budget(${capacity}) = ${budget} must leave an EMPTY slot`);
    t.true(budget >= capacity * 0.75, `budget(${capacity}) = ${budget} is wastefully low`);
    previous = budget;
  }
});

test('a presized int32->int32 map of 100,000 entries uses <= 16 shared bytes per entry (committed: + less than one page)', (t) => {
  const entries = 100_000;
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: entries });
  for (let k = 0; k < entries; k++) map.set(k * 7919, k);
  t.is(map.size, entries);
  t.is(map.get(99_999 * 7919), 99_999);
  const internals = SharedFlatMap.unsafeExposeInternals(map);
  t.is(internals.gen, 0, 'presizing must avoid any resize');
  // Words the map uses (header, writer records, the table): what is ever touched.
  const usedBytes = Atomics.load(internals.words, layout.H_ALLOC_TOP) * layout.INT_BYTES;
  const perEntry = usedBytes / entries;
  // The memory is committed in whole 64 KiB WebAssembly pages: the tail of the
  // last page is reserved but never written (and so not resident).
  const committed = map.byteLength;
  t.log(`bytes per entry: ${perEntry.toFixed(2)} used, ${(committed / entries).toFixed(2)} committed`);
  t.true(perEntry <= 16, `${perEntry} bytes per entry`);
  t.is(committed, pagesFor(usedBytes) * WASM_PAGE_BYTES, 'committed = used, rounded up to whole pages');
});

test('a new map writes MAGIC and LAYOUT_VERSION into its header', (t) => {
  const map = new SharedFlatMap({ keys: 'int32', values: 'int32' });
  const words = new Int32Array(map.handle.memory.buffer, 0, HEADER_INTS);
  t.is(words[layout.H_MAGIC], layout.MAGIC);
  t.is(words[layout.H_LAYOUT_VERSION], layout.LAYOUT_VERSION);
  t.is(words[layout.H_SLOT_INTS], 3);
  t.is(map.handle.flatshare, layout.LAYOUT_VERSION);
});

test('arena size classes: ascending, exact up to 8 words, then < 25% waste, and the largest holds MAX_VALUE_BYTES', (t) => {
  const sizes = layout.ARENA_CLASS_SIZES;
  t.is(sizes.length, layout.ARENA_CLASSES);
  t.is(sizes[0], layout.MIN_BLOCK_INTS);
  for (let c = 1; c < sizes.length; c++) {
    const size = sizes[c] as number;
    const prev = sizes[c - 1] as number;
    if (!(size > prev)) t.fail(`class ${c} (${size}) is not larger than class ${c - 1} (${prev})`);
    if (size <= layout.EXACT_CLASS_LIMIT_INTS) t.is(size, prev + 1);
    // Worst case: a block of prev + 1 words in a class of `size` words.
    else if ((size - (prev + 1)) / size >= 0.25) t.fail(`class ${c} wastes ${size - prev - 1} of ${size} words`);
  }
  t.true((sizes[sizes.length - 1] as number) >= layout.MAX_BLOCK_INTS);
  t.true((sizes[sizes.length - 2] as number) < layout.MAX_BLOCK_INTS);
  t.is(layout.MAX_BLOCK_INTS, 1 + layout.MAX_VALUE_BYTES / INT_BYTES);
});

test('arena: block header tags fit BLOCK_TAG_BITS and the longest payload fits beside them in 32 bits', (t) => {
  for (const tag of [layout.TAG_LATIN1, layout.TAG_UTF16, layout.TAG_BYTES]) t.is(tag & layout.BLOCK_TAG_MASK, tag);
  t.is(new Set([layout.TAG_LATIN1, layout.TAG_UTF16, layout.TAG_BYTES]).size, 3);
  t.true(layout.MAX_VALUE_BYTES * 2 ** layout.BLOCK_TAG_BITS <= 2 ** 32 - 1);
  t.true(layout.MAX_KEY_BYTES <= layout.MAX_VALUE_BYTES);
  // Block index 0 is the magic word: it can never be a block, so it means null.
  t.is(layout.NULL_BLOCK, layout.H_MAGIC);
  t.true(layout.FIXED_INTS > layout.NULL_BLOCK);
});

test('slot strides: string keys take HASH and KEY_REF, arena values one word', (t) => {
  t.is(layout.slotInts('string', 'int32'), 4);
  t.is(layout.slotInts('string', 'float64'), 5);
  t.is(layout.slotInts('string', 'string'), 4);
  t.is(layout.slotInts('int32', 'json'), 3);
  t.is(layout.valueOffset('string'), 3);
  t.is(layout.S_KEY_REF, layout.S_HASH + 1);
  for (const v of ['string', 'bytes', 'json'] as const) t.true(layout.isRefValue(v));
  for (const v of ['int32', 'float64'] as const) t.false(layout.isRefValue(v));
});
