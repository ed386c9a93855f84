/**
 * The shared buffer and its allocator (lib/memory.ts): bump allocation, grow
 * races, the retired-region free list.
 */
import test from 'ava';
import { ErrorCode, FlatshareFullError } from '../../lib/errors.js';
import {
  FIXED_INTS,
  FREE_REGION_BASE,
  FREE_REGION_MAX,
  FREE_REGION_RETIRED_GEN,
  FREE_REGION_SIZE,
  H_ALLOC_TOP,
  H_FREE_COUNT,
  GROW_STEP_BYTES,
  INT_BYTES,
  W_ACTIVE_GEN,
} from '../../lib/layout.js';
import {
  WASM_PAGE_BYTES,
  WasmSharedMemory,
  bumpAllocate,
  createSharedMemory,
  ensureBytes,
  oldestActiveGeneration,
  freeRecordAt,
  freeRegionAtTopInts,
  freeRegions,
  pagesFor,
  rebuildFreeList,
  retireRegion,
  takeFreeRegion,
  takeFreeRegionAtTop,
  takeTopRunEnd,
  viewWords,
  type SharedMemory,
} from '../../lib/memory.js';
import { writerRecordAt } from '../../lib/writers.js';
import { spyAtomics } from '../helpers/atomics-spy.js';

interface Region {
  base: number;
  ints: number;
  gen: number;
}

/** A memory holding just the fixed part (header + writer records), with ALLOC_TOP after it. */
function fixedBuffer(maxBytes: number): { buffer: WasmSharedMemory; words: Int32Array } {
  const buffer = createSharedMemory(FIXED_INTS * INT_BYTES, maxBytes);
  const words = viewWords(buffer);
  Atomics.store(words, H_ALLOC_TOP, FIXED_INTS);
  return { buffer, words };
}

/** The free list's records, by base. */
function freeList(words: Int32Array): Region[] {
  return freeRegions(words)
    .map((r) => ({ base: r.base, ints: r.ints, gen: r.retiredAtGen }))
    .sort((a, b) => a.base - b.base);
}

const MiB = 1 << 20;

test('createSharedMemory: a shared WebAssembly.Memory of whole pages, maximum pagesFor(maxBytes)', (t) => {
  const memory = createSharedMemory(100, 3 * WASM_PAGE_BYTES + 1);
  t.true(memory.buffer instanceof SharedArrayBuffer);
  t.is(memory.byteLength, WASM_PAGE_BYTES, '100 bytes round up to one page');
  t.is(memory.maxByteLength, 3 * WASM_PAGE_BYTES + 1, 'maxByteLength is maxBytes itself');
  memory.grow(4 * WASM_PAGE_BYTES);
  t.is(memory.byteLength, 4 * WASM_PAGE_BYTES, 'the memory may grow to pagesFor(maxBytes) = 4 pages');
  t.throws(() => memory.grow(5 * WASM_PAGE_BYTES), { instanceOf: RangeError }, 'and not past them');
  t.is(pagesFor(0), 0);
  t.is(pagesFor(1), 1);
  t.is(pagesFor(WASM_PAGE_BYTES), 1);
  t.is(pagesFor(WASM_PAGE_BYTES + 1), 2);
});

test('viewWords makes an explicit-length view of the whole memory', (t) => {
  const { buffer, words } = fixedBuffer(4 * MiB);
  const length = buffer.byteLength / INT_BYTES;
  t.is(words.length, length);
  t.is(words.buffer, buffer.buffer);
  buffer.grow(buffer.byteLength + 64);
  t.is(words.length, length, 'the old view keeps its length (not length-tracking)');
  t.is(viewWords(buffer).length, length + WASM_PAGE_BYTES / INT_BYTES, 'one more page');
});

test('ensureBytes doubles a memory below GROW_STEP_BYTES, then grows it by GROW_STEP_BYTES, never by less than asked', (t) => {
  const memory = createSharedMemory(WASM_PAGE_BYTES, 64 * MiB);
  t.is(memory.byteLength, WASM_PAGE_BYTES);
  ensureBytes(memory, WASM_PAGE_BYTES + 1);
  t.is(memory.byteLength, 2 * WASM_PAGE_BYTES, '64 KiB -> 128 KiB');
  ensureBytes(memory, 2 * WASM_PAGE_BYTES + 1);
  t.is(memory.byteLength, 4 * WASM_PAGE_BYTES, '128 KiB -> 256 KiB');
  ensureBytes(memory, 4 * WASM_PAGE_BYTES);
  t.is(memory.byteLength, 4 * WASM_PAGE_BYTES, 'long enough: no grow');
  ensureBytes(memory, 3 * MiB);
  t.is(memory.byteLength, 3 * MiB, 'more than one step asked: exactly that (whole pages)');
  ensureBytes(memory, 3 * MiB + 1);
  t.is(memory.byteLength, 3 * MiB + GROW_STEP_BYTES, 'past GROW_STEP_BYTES: one step at a time');
  t.is(GROW_STEP_BYTES, MiB);
});

test('bumpAllocate grows the memory and moves ALLOC_TOP', (t) => {
  const { buffer, words } = fixedBuffer(8 * MiB);
  const first = bumpAllocate(words, buffer, 1000);
  t.is(first, FIXED_INTS);
  t.is(Atomics.load(words, H_ALLOC_TOP), FIXED_INTS + 1000);
  t.true(buffer.byteLength >= (FIXED_INTS + 1000) * INT_BYTES);
  const second = bumpAllocate(words, buffer, 24);
  t.is(second, FIXED_INTS + 1000);
  t.is(Atomics.load(words, H_ALLOC_TOP), FIXED_INTS + 1024);
  // A block past the 1 MiB growth step grows again.
  const big = bumpAllocate(words, buffer, (2 * MiB) / INT_BYTES);
  t.is(big, FIXED_INTS + 1024);
  t.true(buffer.byteLength >= (big + (2 * MiB) / INT_BYTES) * INT_BYTES);
  t.true(buffer.byteLength <= pagesFor(buffer.maxByteLength) * WASM_PAGE_BYTES);
  // The new words are usable through a fresh view.
  const fresh = viewWords(buffer);
  Atomics.store(fresh, big + (2 * MiB) / INT_BYTES - 1, 42);
  t.is(Atomics.load(fresh, big + (2 * MiB) / INT_BYTES - 1), 42);
});

test('bumpAllocate past maxBytes throws FlatshareFullError and leaves ALLOC_TOP and the memory unchanged', (t) => {
  // maxBytes is not a whole number of pages: the allocator still stops exactly at it.
  const maxBytes = (FIXED_INTS + 16_384 + 100) * INT_BYTES;
  const { buffer, words } = fixedBuffer(maxBytes);
  t.is(bumpAllocate(words, buffer, 16_384 + 60), FIXED_INTS);
  const lengthBefore = buffer.byteLength;
  const error = t.throws(() => bumpAllocate(words, buffer, 41), { instanceOf: FlatshareFullError, code: ErrorCode.FULL });
  t.true(error instanceof RangeError);
  t.is(error?.code, 'ERR_FLATSHARE_FULL');
  t.is(error?.requestedBytes, maxBytes + INT_BYTES);
  t.is(error?.maxBytes, maxBytes);
  t.is(Atomics.load(words, H_ALLOC_TOP), FIXED_INTS + 16_384 + 60);
  t.is(buffer.byteLength, lengthBefore);
  // Exactly up to the limit still works, and commits whole pages.
  t.is(bumpAllocate(words, buffer, 40), FIXED_INTS + 16_384 + 60);
  t.is(buffer.byteLength, pagesFor(maxBytes) * WASM_PAGE_BYTES);
});

test('ensureBytes: no-op when long enough, FlatshareFullError past max without growing', (t) => {
  const { buffer } = fixedBuffer(FIXED_INTS * INT_BYTES + MiB);
  const start = buffer.byteLength;
  ensureBytes(buffer, 16);
  t.is(buffer.byteLength, start);
  t.throws(() => ensureBytes(buffer, buffer.maxByteLength + 4), { instanceOf: FlatshareFullError });
  t.is(buffer.byteLength, start);
  ensureBytes(buffer, buffer.maxByteLength);
  t.is(buffer.byteLength, pagesFor(buffer.maxByteLength) * WASM_PAGE_BYTES, 'the growth step is capped at maxBytes (in whole pages)');
});

/** `real` as ensureBytes sees it, with `grow` replaced (to simulate another thread or a failure). */
function withGrow(real: WasmSharedMemory, grow: (newByteLength: number) => void): SharedMemory {
  return {
    get byteLength() {
      return real.byteLength;
    },
    get buffer() {
      return real.buffer;
    },
    bufferCovering: (minBytes) => real.bufferCovering(minBytes),
    maxByteLength: real.maxByteLength,
    grow,
  };
}

/** A memory whose grow() first lets "another thread" add `otherPages` pages. */
function racingMemory(real: WasmSharedMemory, otherPages: number): SharedMemory {
  return withGrow(real, (newByteLength) => {
    real.memory.grow(otherPages); // the other thread grows first
    real.grow(newByteLength); // then ours, by what it still lacks (or by nothing)
  });
}

test('ensureBytes: two growers at once both add pages; the memory is long enough and stays within its maximum', (t) => {
  const real = createSharedMemory(WASM_PAGE_BYTES, 64 * WASM_PAGE_BYTES);
  const before = real.byteLength;
  t.notThrows(() => ensureBytes(racingMemory(real, 2), before + 100));
  t.true(real.byteLength >= before + 100);
  t.true(real.byteLength <= 64 * WASM_PAGE_BYTES);
});

test('ensureBytes tolerates a grow() that failed at the maximum when the memory is long enough afterwards', (t) => {
  const real = createSharedMemory(WASM_PAGE_BYTES, 4 * WASM_PAGE_BYTES);
  // The other thread takes the memory to its maximum; ours then throws RangeError.
  const racing = withGrow(real, (newByteLength) => {
    real.memory.grow(3);
    real.memory.grow(pagesFor(newByteLength)); // past the maximum
  });
  t.throws(() => racing.grow(2 * WASM_PAGE_BYTES), { instanceOf: RangeError }, 'the simulated loser really throws');
  t.notThrows(() => ensureBytes(racing, 2 * WASM_PAGE_BYTES));
  t.is(real.byteLength, 4 * WASM_PAGE_BYTES);
});

test('ensureBytes rethrows a grow() failure that left the memory too short', (t) => {
  const real = createSharedMemory(4096, 16 * MiB);
  const failing = withGrow(real, () => {
    throw new RangeError('simulated grow failure');
  });
  t.throws(() => ensureBytes(failing, 2 * WASM_PAGE_BYTES), { instanceOf: RangeError, message: 'simulated grow failure' });
  t.is(real.byteLength, WASM_PAGE_BYTES);
});

test('retireRegion merges adjacent regions on both sides, and bridges a gap', (t) => {
  const { words } = fixedBuffer(4 * MiB);
  retireRegion(words, 10_000, 100, 1);
  retireRegion(words, 10_100, 50, 2); // right neighbour
  t.deepEqual(freeList(words), [{ base: 10_000, ints: 150, gen: 2 }]);
  retireRegion(words, 9_900, 100, 1); // left neighbour: keeps the newest generation
  t.deepEqual(freeList(words), [{ base: 9_900, ints: 250, gen: 2 }]);
  retireRegion(words, 20_000, 10, 3); // not adjacent
  t.deepEqual(freeList(words), [
    { base: 9_900, ints: 250, gen: 2 },
    { base: 20_000, ints: 10, gen: 3 },
  ]);
  retireRegion(words, 10_150, 9_850, 4); // fills the gap: all three become one
  t.deepEqual(freeList(words), [{ base: 9_900, ints: 10_110, gen: 4 }]);
});

test('takeFreeRegion: first fit, tail split, exact fit removes the record, -1 when nothing fits', (t) => {
  const { words } = fixedBuffer(4 * MiB);
  t.is(takeFreeRegion(words, 1), -1, 'empty list');
  retireRegion(words, 10_000, 100, 1);
  retireRegion(words, 50_000, 500, 1);
  retireRegion(words, 90_000, 400, 1);
  t.is(takeFreeRegion(words, 200), 50_000, 'skips the region that is too small');
  t.deepEqual(freeList(words), [
    { base: 10_000, ints: 100, gen: 1 },
    { base: 50_200, ints: 300, gen: 1 },
    { base: 90_000, ints: 400, gen: 1 },
  ]);
  t.is(takeFreeRegion(words, 300), 50_200);
  t.deepEqual(
    freeList(words).map((r) => r.base),
    [10_000, 90_000],
  );
  t.is(takeFreeRegion(words, 1000), -1);
  t.is(Atomics.load(words, H_FREE_COUNT), 2);
  t.is(takeFreeRegion(words, 100), 10_000);
  t.is(takeFreeRegion(words, 400), 90_000);
  t.is(Atomics.load(words, H_FREE_COUNT), 0);
});

test('takeFreeRegion refuses a region while a writer record announces an older generation', (t) => {
  const { words } = fixedBuffer(4 * MiB);
  retireRegion(words, 10_000, 100, 5); // retired by the flip to generation 5
  const rec = writerRecordAt(17);
  t.is(oldestActiveGeneration(words), Infinity);

  Atomics.store(words, rec + W_ACTIVE_GEN, 4 + 1); // a writer still in generation 4
  t.is(oldestActiveGeneration(words), 4);
  t.is(takeFreeRegion(words, 50), -1);
  t.deepEqual(freeList(words), [{ base: 10_000, ints: 100, gen: 5 }], 'the list is untouched');

  Atomics.store(words, writerRecordAt(3) + W_ACTIVE_GEN, 7 + 1); // another writer, newer: the oldest still counts
  t.is(oldestActiveGeneration(words), 4);
  t.is(takeFreeRegion(words, 50), -1);

  Atomics.store(words, rec + W_ACTIVE_GEN, 5 + 1); // now in generation 5: safe
  t.is(oldestActiveGeneration(words), 5);
  t.is(takeFreeRegion(words, 50), 10_000);

  Atomics.store(words, rec + W_ACTIVE_GEN, 0); // idle records do not count
  Atomics.store(words, writerRecordAt(3) + W_ACTIVE_GEN, 0);
  t.is(takeFreeRegion(words, 50), 10_050);
});

test('takeFreeRegion skips an unsafe region and takes a later safe one', (t) => {
  const { words } = fixedBuffer(4 * MiB);
  retireRegion(words, 10_000, 100, 9);
  retireRegion(words, 30_000, 100, 2);
  Atomics.store(words, writerRecordAt(0) + W_ACTIVE_GEN, 3 + 1);
  t.is(takeFreeRegion(words, 100), 30_000);
  t.deepEqual(freeList(words), [{ base: 10_000, ints: 100, gen: 9 }]);
});

test('takeFreeRegionAtTop: the region that ends at the top and words above it, as one; the record leaves the list', (t) => {
  const { buffer, words } = fixedBuffer(4 * MiB);
  const base = bumpAllocate(words, buffer, 1_000); // a table region, then retired: it ends at the top
  retireRegion(words, base, 1_000, 3);
  retireRegion(words, 10, 20, 3); // elsewhere
  t.is(freeRegionAtTopInts(words, false), 1_000);
  const announced: [number, number, number][] = [];
  const taken = takeFreeRegionAtTop(words, buffer, 1_500, (b, ints, gen) => announced.push([b, ints, gen]));
  t.deepEqual(taken, { base, retiredAtGen: 3 });
  t.deepEqual(announced, [[base, 1_000, 3], [base, 1_500, 3]], 'the whole record first, then all the words once the CAS took those above it');
  t.is(Atomics.load(words, H_ALLOC_TOP), base + 1_500, 'the top moved past the 500 words above the region');
  t.deepEqual(freeList(words), [{ base: 10, ints: 20, gen: 3 }]);
  t.true(buffer.byteLength >= (base + 1_500) * INT_BYTES, 'the memory grew to cover them');
  t.is(freeRegionAtTopInts(words, false), 0);
});

test('takeFreeRegionAtTop changes nothing for a region that fits alone, none at the top, a pinned one, one past maxBytes, or a top that moved', (t) => {
  const maxBytes = 4 * MiB;
  const { buffer, words } = fixedBuffer(maxBytes);
  const maxInts = maxBytes / INT_BYTES;
  t.is(takeFreeRegionAtTop(words, buffer, 100), undefined, 'empty list');
  const base = bumpAllocate(words, buffer, 1_000);
  retireRegion(words, base, 1_000, 5);
  const before = (): unknown => [freeList(words), Atomics.load(words, H_ALLOC_TOP)];
  const unchanged = before();
  t.is(takeFreeRegionAtTop(words, buffer, 1_000), undefined, 'fits alone: takeFreeRegion takes it');
  t.is(takeFreeRegionAtTop(words, buffer, maxInts - base + 1), undefined, 'past maxBytes');
  Atomics.store(words, writerRecordAt(2) + W_ACTIVE_GEN, 4 + 1); // a writer still in generation 4
  t.is(freeRegionAtTopInts(words, false), 0);
  t.is(freeRegionAtTopInts(words, true), 1_000, 'counted when pinned regions count');
  t.is(takeFreeRegionAtTop(words, buffer, 2_000), undefined, 'pinned');
  Atomics.store(words, writerRecordAt(2) + W_ACTIVE_GEN, 0);
  t.deepEqual(before(), unchanged);
  // Another writer bumps an arena block between the announcement and the CAS.
  const announced: number[] = [];
  const taken = takeFreeRegionAtTop(words, buffer, 2_000, (b) => {
    announced.push(b);
    bumpAllocate(words, buffer, 16);
  });
  t.is(taken, undefined, 'the CAS failed: nothing taken');
  t.deepEqual(announced, [base]);
  t.deepEqual(freeList(words), [{ base, ints: 1_000, gen: 5 }], 'the record stays');
  t.is(Atomics.load(words, H_ALLOC_TOP), base + 1_000 + 16, 'only the block moved the top');
  t.is(freeRegionAtTopInts(words, false), 0, 'the region no longer ends at the top');
});

test('takeTopRunEnd: the last words of the run at the top; the words below them stay listed, in the record or a new one', (t) => {
  const maxBytes = 1 * MiB;
  const end = maxBytes / INT_BYTES; // a multiple of CACHE_LINE_INTS
  const line = 16;
  {
    // A retired region that ends at the top: the table takes the end of it and the room above.
    const { buffer, words } = fixedBuffer(maxBytes);
    const base = bumpAllocate(words, buffer, 10_000, line);
    retireRegion(words, base, 10_000, 3);
    const announced: [number, number, number][] = [];
    const taken = takeTopRunEnd(words, buffer, 20_000, line, (b, n, g) => announced.push([b, n, g]), base);
    t.deepEqual(taken, { base: end - 20_000, retiredAtGen: 3 });
    t.is(Atomics.load(words, H_ALLOC_TOP), end, 'the top moved to the end of the run');
    t.deepEqual(freeList(words), [{ base, ints: end - 20_000 - base, gen: 3 }], 'the record lists the words below the table');
    t.deepEqual(announced, [[base, 10_000, 3], [base, end - base, 3]]);
    t.true(buffer.byteLength >= maxBytes);
  }
  {
    // No region at the top: the words below the table become a record of their own.
    const { buffer, words } = fixedBuffer(maxBytes);
    const top = bumpAllocate(words, buffer, 1_024, line) + 1_024;
    const taken = takeTopRunEnd(words, buffer, 30_000, line);
    t.deepEqual(taken, { base: end - 30_000, retiredAtGen: 0 });
    t.deepEqual(freeList(words), [{ base: top, ints: end - 30_000 - top, gen: 0 }]);
  }
  {
    // A table of the whole run: the record goes.
    const { buffer, words } = fixedBuffer(maxBytes);
    const base = bumpAllocate(words, buffer, 4_000, line);
    retireRegion(words, base, 4_000, 2);
    t.deepEqual(takeTopRunEnd(words, buffer, end - base, line), { base, retiredAtGen: 2 });
    t.deepEqual(freeList(words), []);
  }
  {
    // What changes nothing: a run too short, one that does not start where asked, a top off the line.
    const { buffer, words } = fixedBuffer(maxBytes);
    const base = bumpAllocate(words, buffer, 4_000, line);
    retireRegion(words, base, 4_000, 2);
    const unchanged = [freeList(words), Atomics.load(words, H_ALLOC_TOP)];
    t.is(takeTopRunEnd(words, buffer, end - base + line, line), undefined, 'longer than the run');
    t.is(takeTopRunEnd(words, buffer, line, line, undefined, base + line), undefined, 'a run that does not start at runStart');
    t.deepEqual([freeList(words), Atomics.load(words, H_ALLOC_TOP)], unchanged);
    bumpAllocate(words, buffer, 3); // an arena block: the top is off the line now
    t.is(takeTopRunEnd(words, buffer, line, line), undefined, 'a top off the line');
  }
});

test('retireRegion on a full list forgets the smallest region', (t) => {
  const { words } = fixedBuffer(4 * MiB);
  const sizes: number[] = [];
  for (let r = 0; r < FREE_REGION_MAX; r++) {
    const ints = r === 11 ? 7 : 100 + r; // region 11 is the smallest
    sizes.push(ints);
    retireRegion(words, 100_000 + r * 1_000, ints, 1);
  }
  t.is(Atomics.load(words, H_FREE_COUNT), FREE_REGION_MAX);
  retireRegion(words, 900_000, 500, 2);
  const list = freeList(words);
  t.is(list.length, FREE_REGION_MAX);
  t.false(list.some((r) => r.base === 100_000 + 11 * 1_000), 'the smallest region was dropped');
  t.true(list.some((r) => r.base === 900_000 && r.ints === 500 && r.gen === 2), 'the new region is kept');
  for (let r = 0; r < FREE_REGION_MAX; r++) {
    if (r === 11) continue;
    t.true(
      list.some((x) => x.base === 100_000 + r * 1_000 && x.ints === sizes[r]),
      `region ${r} is kept`,
    );
  }
});

// ---------------------------------------------------------------- a free list that survives its editor

/** [start, end) intervals. */
type Span = readonly [number, number];

/** True when [start, end) lies inside the union of `spans`. */
function covered(start: number, end: number, spans: readonly Span[]): boolean {
  let at = start;
  for (const [s, e] of [...spans].sort((a, b) => a[0] - b[0])) if (s <= at && e > at) at = e;
  return at >= end;
}

/**
 * Run `edit` with a check after every Atomics.store into `words`: each record
 * below FREE_COUNT lists only words of `free` (memory.ts, the free-list
 * invariant). Returns the number of stores checked.
 */
function checkEveryStore(t: import('ava').ExecutionContext, words: Int32Array, free: () => readonly Span[], edit: () => void): number {
  let stores = 0;
  spyAtomics('store', (array, index, value) => {
    if (array !== words) return;
    stores++;
    for (const r of freeList(words)) {
      if (r.ints > 0 && !covered(r.base, r.base + r.ints, free())) t.fail(`after store ${stores} (word ${index} = ${value}): record [${r.base}, +${r.ints}) lists words that are not free`);
    }
  }, edit);
  return stores;
}

test('every store of every free-list edit lists only free words (so a dead editor leaves a list recovery can rebuild)', (t) => {
  const { buffer, words } = fixedBuffer(4 * MiB);
  const free: Span[] = [];
  const retire = (base: number, ints: number, gen: number): number => {
    free.push([base, base + ints]); // free from the start of its retirement
    return checkEveryStore(t, words, () => free, () => retireRegion(words, base, ints, gen));
  };
  t.true(retire(10_000, 100, 1) > 0, 'a new record');
  t.true(retire(10_100, 50, 2) > 0, 'merge into the record below');
  t.true(retire(9_900, 100, 2) > 0, 'merge into the record above: BASE, then SIZE');
  retire(20_000, 64, 3);
  t.true(retire(10_150, 9_850, 4) > 0, 'bridges two records: one grows over the other, which is removed');
  t.deepEqual(freeList(words), [{ base: 9_900, ints: 10_164, gen: 4 }]);
  retire(40_000, 32, 4);
  retire(50_000, 48, 4);
  // Taking: the head of a record, then a whole record (removal, the last one moved into its place).
  const take = (ints: number): number => {
    let announced: Span = [0, 0];
    let base = -1;
    checkEveryStore(t, words, () => [...free, announced], () => {
      base = takeFreeRegion(words, ints, (b, n) => (announced = [b, b + n]));
    });
    // From now on the taken words are a table's: no record may list them.
    const rest = free.flatMap(([s, e]): Span[] => ([[s, Math.min(e, base)], [Math.max(s, base + ints), e]] as Span[]).filter(([x, y]) => y > x));
    free.splice(0, free.length, ...rest);
    return base;
  };
  t.is(take(5_000), 9_900, 'the head of the big record');
  t.is(take(5_164), 14_900, 'the rest of it, a whole record: removed, the last record moved into its place');
  t.deepEqual(freeList(words).map((r) => r.base), [40_000, 50_000]);
  // Taking the record that ends at the top and words above it (takeFreeRegionAtTop).
  Atomics.store(words, H_ALLOC_TOP, 50_048);
  let announced: Span = [0, 0];
  let atTop: { base: number } | undefined;
  t.true(checkEveryStore(t, words, () => [...free, announced], () => {
    atTop = takeFreeRegionAtTop(words, buffer, 100, (b, n) => (announced = [b, b + n]));
  }) > 0);
  t.is(atTop?.base, 50_000);
  free.splice(free.findIndex(([s]) => s === 50_000), 1);
  t.deepEqual(freeList(words).map((r) => r.base), [40_000]);
  // Taking the end of the run at the top, the record at the top keeping the words below it (takeTopRunEnd).
  const maxInts = (4 * MiB) / INT_BYTES;
  retire(60_000, 64, 5);
  Atomics.store(words, H_ALLOC_TOP, 60_064);
  announced = [0, 0];
  let runEnd: { base: number } | undefined;
  t.true(checkEveryStore(t, words, () => [...free, announced], () => {
    runEnd = takeTopRunEnd(words, buffer, 160, 16, (b, n) => (announced = [b, b + n]));
  }) > 0);
  t.is(runEnd?.base, maxInts - 160);
  free.splice(free.findIndex(([s]) => s === 60_000), 1, [60_000, maxInts - 160]);
  t.deepEqual(freeList(words).map((r) => [r.base, r.ints]), [[40_000, 32], [60_000, maxInts - 160 - 60_000]]);
  // A full list forgets its smallest record to make room.
  for (let r = freeList(words).length; r < FREE_REGION_MAX; r++) retire(100_000 + r * 1_000, 16 + r, 5);
  t.is(freeList(words).length, FREE_REGION_MAX);
  retire(900_000, 500, 6);
  t.is(freeList(words).length, FREE_REGION_MAX);
  t.true(freeList(words).some((r) => r.base === 900_000));
});

test('rebuildFreeList: the union of overlapping, repeated and empty records and of the added regions, less the excluded ones, merged', (t) => {
  const { words } = fixedBuffer(4 * MiB);
  const write = (regions: Region[]): void => {
    regions.forEach((r, i) => {
      const rec = freeRecordAt(i);
      Atomics.store(words, rec + FREE_REGION_BASE, r.base);
      Atomics.store(words, rec + FREE_REGION_SIZE, r.ints);
      Atomics.store(words, rec + FREE_REGION_RETIRED_GEN, r.gen);
    });
    Atomics.store(words, H_FREE_COUNT, regions.length);
  };
  // What a dead editor can leave: a record listed twice, one inside another, an emptied one.
  write([
    { base: 10_000, ints: 500, gen: 2 },
    { base: 10_000, ints: 500, gen: 2 },
    { base: 10_100, ints: 50, gen: 1 },
    { base: 30_000, ints: 0, gen: 7 },
    { base: 20_000, ints: 100, gen: 3 },
  ]);
  rebuildFreeList(words, [{ base: 10_500, ints: 300, retiredAtGen: 5 }], [{ base: 20_040, ints: 20 }]);
  t.deepEqual(freeList(words), [
    { base: 10_000, ints: 800, gen: 5 }, // with the adjacent added region, the latest generation
    { base: 20_000, ints: 40, gen: 3 }, // split around the excluded table
    { base: 20_060, ints: 40, gen: 3 },
  ]);
  // More pieces than records: the largest FREE_REGION_MAX are kept.
  write([]);
  const many = Array.from({ length: FREE_REGION_MAX + 3 }, (_, i) => ({ base: 100_000 + i * 1_000, ints: 10 + i, retiredAtGen: 1 }));
  rebuildFreeList(words, many, []);
  t.is(freeList(words).length, FREE_REGION_MAX);
  t.deepEqual(freeList(words).map((r) => r.ints), many.slice(3).map((r) => r.ints));
});
