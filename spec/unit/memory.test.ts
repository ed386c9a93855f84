/**
 * The shared buffer and its allocator (lib/memory.ts): bump allocation, grow
 * races, the retired-region free list.
 */
import test from 'ava';
import { ErrorCode, FlatshareFullError } from '../../lib/errors.js';
import {
  FIXED_INTS,
  FREE_REGION_BASE,
  FREE_REGION_INTS,
  FREE_REGION_MAX,
  FREE_REGION_RETIRED_GEN,
  FREE_REGION_SIZE,
  H_ALLOC_TOP,
  H_FREE_COUNT,
  H_FREE_REGIONS,
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
  pagesFor,
  retireRegion,
  takeFreeRegion,
  viewWords,
  type SharedMemory,
} from '../../lib/memory.js';
import { writerRecordAt } from '../../lib/writers.js';

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

function freeList(words: Int32Array): Region[] {
  const count = Atomics.load(words, H_FREE_COUNT);
  const regions: Region[] = [];
  for (let r = 0; r < count; r++) {
    const rec = H_FREE_REGIONS + r * FREE_REGION_INTS;
    regions.push({
      base: Atomics.load(words, rec + FREE_REGION_BASE),
      ints: Atomics.load(words, rec + FREE_REGION_SIZE),
      gen: Atomics.load(words, rec + FREE_REGION_RETIRED_GEN),
    });
  }
  return regions.sort((a, b) => a.base - b.base);
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
