/**
 * Layout invariants (lib/layout.ts). These fail, they do not log: a header
 * word that overlaps another, a hot word that shares a cache line, or a lane
 * that grows past the bytes-per-entry target is a test failure.
 */
import test from 'ava';
import fc from 'fast-check';
import * as layout from '../../lib/layout.js';
import {
  CACHE_LINE_INTS,
  C_KEY,
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
  MAX_BUCKETS,
  MAX_WRITERS,
  MIGRATION_CHUNK_BUCKETS,
  MIN_BUCKETS,
  TABLE_BUCKET_INTS,
  TABLE_DESC_INTS,
  TABLE_HEADER_INTS,
  T_REMAINING,
  T_SIZE,
  WRITERS_BASE,
  WRITER_RECORD_INTS,
  bucketsFor,
  bucketsForRegionInts,
  chunkCount,
  chunkStateInts,
  chunkStatesAt,
  insertBudget,
  tableRegionInts,
} from '../../lib/layout.js';
import { BUCKET_INTS, lanesFor } from '../../lib/bucket.js';
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

test('lane sizes: int32->int32 is 2 words, 7 lanes a bucket; int32->float64 3 words, 4 lanes', (t) => {
  t.is(layout.laneInts('int32', 'int32'), 2);
  t.is(lanesFor(layout.laneInts('int32', 'int32')), 7);
  t.is(layout.laneInts('int32', 'float64'), 3);
  t.is(lanesFor(layout.laneInts('int32', 'float64')), 4);
  t.is(C_KEY, 0);
  t.is(layout.valueColumn('int32'), 1);
  // 64 bytes / 7 lanes: 9.1 bytes per int32 -> int32 lane.
  t.is(TABLE_BUCKET_INTS * INT_BYTES, 64);
  t.is(BUCKET_INTS, TABLE_BUCKET_INTS, 'bucket.ts and layout.ts agree on the bucket size');
});

test('table header: SIZE and REMAINING on different lines, buckets start after both', (t) => {
  t.not(lineOf(T_SIZE), lineOf(T_REMAINING));
  t.true(T_SIZE < TABLE_HEADER_INTS && T_REMAINING < TABLE_HEADER_INTS);
  t.is(TABLE_HEADER_INTS % CACHE_LINE_INTS, 0);
});

test('table regions stay cache-line aligned: every region length, for any bucket count, is a multiple of a line', (t) => {
  t.is(FIXED_INTS % CACHE_LINE_INTS, 0);
  const counts: number[] = [];
  for (let buckets = MIN_BUCKETS; buckets <= MAX_BUCKETS; buckets *= 2) counts.push(buckets, buckets + 1, buckets * 1.25 + 3);
  for (const buckets of [...counts, 17, 23, 17_858, 178_572, MAX_BUCKETS - 1]) {
    if (buckets > MAX_BUCKETS) continue;
    const ints = tableRegionInts(buckets);
    const exact = TABLE_HEADER_INTS + buckets * TABLE_BUCKET_INTS + chunkCount(buckets);
    if (ints < exact || ints - exact >= CACHE_LINE_INTS) t.fail(`region of ${buckets} buckets: ${ints} words for ${exact}`);
    if (chunkStateInts(buckets) < chunkCount(buckets)) t.fail(`${buckets} buckets: fewer chunk state words than chunks`);
    // Whole lines: a retired region ends where the next line-aligned one starts, so neighbours merge.
    if (ints % CACHE_LINE_INTS !== 0) t.fail(`region of ${buckets} buckets is ${ints} words`);
    if (chunkStatesAt(0, buckets) + chunkStateInts(buckets) !== ints) t.fail(`${buckets} buckets: chunk states do not end the region`);
  }
  t.is(chunkCount(MIGRATION_CHUNK_BUCKETS), 1);
  t.is(chunkCount(MIGRATION_CHUNK_BUCKETS + 1), 2);
  // The largest table's word indices stay far below 2^31, with two tables held during a resize.
  t.true(FIXED_INTS + 2 * tableRegionInts(MAX_BUCKETS) < 2 ** 31);
  // The buckets of the largest table are half the largest map (layout.ts MAX_BUCKETS).
  t.is(MAX_BUCKETS * TABLE_BUCKET_INTS * INT_BYTES, layout.MAX_BYTES_LIMIT / 2);
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
  // The intent payload holds LANE_INFO and every word of the largest lane, and ends the record.
  const widest = Math.max(
    ...(['int32', 'string'] as const).flatMap((k) =>
      (['int32', 'float64', 'string', 'bytes', 'json'] as const).map((v) => layout.laneInts(k, v)),
    ),
  );
  t.is(widest, 4, 'string -> float64');
  t.true(layout.INTENT_PAYLOAD_INTS >= 1 + widest);
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

const LANE_COUNTS = [7, 4, 3] as const; // int32 -> int32; int32 -> float64 and string -> int32; string -> float64

test('bucketsFor: the fewest buckets >= MIN_BUCKETS whose insert budget holds the entries, for every lane count', (t) => {
  fc.assert(
    fc.property(fc.constantFrom(...LANE_COUNTS), fc.double({ min: 0, max: 1, noNaN: true }), (lanes, at) => {
      const entries = Math.floor(at * insertBudget(MAX_BUCKETS, lanes));
      const buckets = bucketsFor(entries, lanes);
      return (
        Number.isInteger(buckets) &&
        buckets >= MIN_BUCKETS &&
        buckets <= MAX_BUCKETS &&
        insertBudget(buckets, lanes) >= entries &&
        (buckets === MIN_BUCKETS || insertBudget(buckets - 1, lanes) < entries)
      );
    }),
    { numRuns: 3000 },
  );
  for (const lanes of LANE_COUNTS) {
    t.is(bucketsFor(0, lanes), MIN_BUCKETS);
    t.is(bucketsFor(insertBudget(MIN_BUCKETS, lanes), lanes), MIN_BUCKETS);
    t.is(bucketsFor(insertBudget(MIN_BUCKETS, lanes) + 1, lanes), MIN_BUCKETS + 1);
    t.is(bucketsFor(insertBudget(MAX_BUCKETS, lanes), lanes), MAX_BUCKETS);
  }
  t.is(bucketsFor(100_000, 7), 17_858, 'ceil(100,000 / 0.8 / 7): not rounded to a power of two');
  t.is(bucketsFor(1_000_000, 7), 178_572);
  t.is(bucketsFor(64, 7), 12, 'the default capacity (64 entries): 84 lanes, budget 67');
});

test('bucketsForRegionInts: the most buckets whose table region fits', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: tableRegionInts(MAX_BUCKETS) + 1_000 }), (ints) => {
      const buckets = bucketsForRegionInts(ints);
      if (buckets === 0) return tableRegionInts(MIN_BUCKETS) > ints;
      return (
        buckets >= MIN_BUCKETS &&
        buckets <= MAX_BUCKETS &&
        tableRegionInts(buckets) <= ints &&
        (buckets === MAX_BUCKETS || tableRegionInts(buckets + 1) > ints)
      );
    }),
    { numRuns: 5000 },
  );
  // Small regions, every count: exact at each boundary.
  for (let buckets = MIN_BUCKETS; buckets < 64 * MIN_BUCKETS; buckets++) {
    const ints = tableRegionInts(buckets);
    t.true(bucketsForRegionInts(ints) >= buckets, `${buckets} buckets`);
    if (!(bucketsForRegionInts(ints - 1) < buckets || tableRegionInts(buckets - 1) === ints)) t.fail(`${buckets} buckets in ${ints - 1} words`);
  }
  t.is(bucketsForRegionInts(tableRegionInts(MIN_BUCKETS) - 1), 0);
  t.is(bucketsForRegionInts(tableRegionInts(MAX_BUCKETS) + 1_000_000), MAX_BUCKETS);
});

test('insertBudget: monotone, and always leaves an EMPTY lane so probes terminate', (t) => {
  for (const lanes of LANE_COUNTS) {
    let previous = -1;
    for (let buckets = MIN_BUCKETS; buckets <= MAX_BUCKETS; buckets *= 2) {
      const budget = insertBudget(buckets, lanes);
      const total = buckets * lanes;
      t.true(Number.isInteger(budget));
      if (!(budget > previous)) t.fail(`budget(${buckets}, ${lanes}) = ${budget}`);
      if (!(budget < total)) t.fail(`budget(${buckets}, ${lanes}) = ${budget} must leave an EMPTY lane`);
      if (!(budget >= total * 0.75)) t.fail(`budget(${buckets}, ${lanes}) = ${budget} is wastefully low`);
      previous = budget;
    }
  }
  t.is(insertBudget(MIN_BUCKETS, 7), 22, '28 lanes x 0.8');
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
  t.is(words[layout.H_LANE_INTS], 2);
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

test('lane widths: string keys take HASH and KEY_REF, arena values one word', (t) => {
  t.is(layout.laneInts('string', 'int32'), 3);
  t.is(layout.laneInts('string', 'float64'), 4);
  t.is(layout.laneInts('string', 'string'), 3);
  t.is(layout.laneInts('int32', 'json'), 2);
  t.is(layout.valueColumn('string'), 2);
  t.is(layout.C_KEY_REF, layout.C_HASH + 1);
  t.is(lanesFor(layout.laneInts('string', 'int32')), 4);
  t.is(lanesFor(layout.laneInts('string', 'float64')), 3);
  for (const v of ['string', 'bytes', 'json'] as const) t.true(layout.isRefValue(v));
  for (const v of ['int32', 'float64'] as const) t.false(layout.isRefValue(v));
});
