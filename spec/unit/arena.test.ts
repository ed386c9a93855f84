/**
 * The arena allocator (lib/arena.ts): size classes, per-class free lists,
 * block reuse, the FULL path, and the bounds check of unvalidated headers.
 */
import test from 'ava';
import fc from 'fast-check';
import { ErrorCode, FlatshareFullError } from '../../lib/errors.js';
import {
  ARENA_BASE,
  ARENA_CLASSES,
  ARENA_CLASS_INTS,
  ARENA_CLASS_SIZES,
  A_FREE_HEAD,
  A_LOCK,
  BLOCK_HEADER_INTS,
  BLOCK_TAG_BITS,
  EXACT_CLASS_LIMIT_INTS,
  FIXED_INTS,
  H_ALLOC_TOP,
  INT_BYTES,
  MAX_BLOCK_INTS,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  MIN_BLOCK_INTS,
  NULL_BLOCK,
  TAG_BYTES,
  TAG_LATIN1,
  TAG_UTF16,
} from '../../lib/layout.js';
import {
  allocateBlock,
  blockHeader,
  blockIntsFor,
  blockSizeFor,
  classFor,
  freeBlock,
  freeListLength,
  headerTag,
  payloadBytes,
  type ArenaHost,
} from '../../lib/arena.js';
import { createSharedMemory, viewWords, type SharedMemory } from '../../lib/memory.js';

interface TestArena extends ArenaHost {
  view: Int32Array;
}

/** An arena host over a buffer holding just the fixed part, ALLOC_TOP right after it. */
function arena(maxBytes = 1 << 24, initialBytes = FIXED_INTS * INT_BYTES): TestArena {
  const memory: SharedMemory = createSharedMemory(initialBytes, maxBytes);
  const host: TestArena = {
    memory,
    view: viewWords(memory),
    words: () => host.view,
    refreshWords: () => {
      if (host.view.length * INT_BYTES < memory.byteLength) host.view = viewWords(memory);
      return host.view;
    },
  };
  Atomics.store(host.view, H_ALLOC_TOP, FIXED_INTS);
  return host;
}

function top(host: TestArena): number {
  return Atomics.load(host.refreshWords(), H_ALLOC_TOP);
}

/** FREE_HEAD and LOCK of every class record. */
function classRecords(host: TestArena): number[] {
  const words = host.refreshWords();
  const out: number[] = [];
  for (let c = 0; c < ARENA_CLASSES; c++) {
    out.push(Atomics.load(words, ARENA_BASE + c * ARENA_CLASS_INTS + A_FREE_HEAD));
    out.push(Atomics.load(words, ARENA_BASE + c * ARENA_CLASS_INTS + A_LOCK));
  }
  return out;
}

// ---------------------------------------------------------------- classes

test('size classes: ascending, exact up to 8 words, then < 25% waste, the last holds a 16 MiB payload', (t) => {
  t.is(ARENA_CLASS_SIZES[0], MIN_BLOCK_INTS);
  for (let c = 1; c < ARENA_CLASSES; c++) {
    const prev = ARENA_CLASS_SIZES[c - 1] as number;
    const size = ARENA_CLASS_SIZES[c] as number;
    t.true(size > prev, `class ${c} (${size}) not above class ${c - 1} (${prev})`);
    t.true(Number.isInteger(size), `class ${c} size ${size} is not a whole number of words`);
    if (size <= EXACT_CLASS_LIMIT_INTS) t.is(size, prev + 1);
    // The smallest request that lands in class c is prev + 1 words: waste < 1/4 of the block.
    else t.true((size - (prev + 1)) / size < 0.25, `class ${c}: ${size} words for ${prev + 1}`);
  }
  const last = ARENA_CLASS_SIZES[ARENA_CLASSES - 1] as number;
  t.true(last >= MAX_BLOCK_INTS);
  t.true((ARENA_CLASS_SIZES[ARENA_CLASSES - 2] as number) < MAX_BLOCK_INTS, 'one class too many');
  t.is(blockSizeFor(MAX_VALUE_BYTES), last);
});

test('classFor / blockSizeFor: the smallest class that fits, for every payload length up to 64 KiB and some beyond', (t) => {
  const lengths = [...Array.from({ length: MAX_KEY_BYTES + 1 }, (_, i) => i), MAX_VALUE_BYTES - 1, MAX_VALUE_BYTES];
  let bad = 0;
  for (const byteLength of lengths) {
    const need = blockIntsFor(byteLength);
    const c = classFor(need);
    const size = ARENA_CLASS_SIZES[c] as number;
    const fits = size >= need && need >= BLOCK_HEADER_INTS + Math.ceil(byteLength / INT_BYTES);
    const smallest = c === 0 || (ARENA_CLASS_SIZES[c - 1] as number) < need;
    if (!fits || !smallest || blockSizeFor(byteLength) !== size) {
      if (bad++ < 5) t.fail(`payload ${byteLength}: need ${need} words, class ${c} of ${size} words`);
    }
  }
  t.is(bad, 0);
  // Spot checks from the layout doc: a 16-byte key takes a 5-word block, a 1 KiB value a 320-word block.
  t.is(blockSizeFor(0), MIN_BLOCK_INTS);
  t.is(blockSizeFor(4), 2);
  t.is(blockSizeFor(5), 3);
  t.is(blockSizeFor(16), 5);
  t.is(blockSizeFor(1024), 320);
  t.is(classFor(1), 0);
  t.is(classFor(MAX_BLOCK_INTS), ARENA_CLASSES - 1);
});

test('blockHeader / headerTag / payloadBytes round-trip for every tag and a range of lengths', (t) => {
  const host = arena(1 << 26);
  for (const tag of [TAG_LATIN1, TAG_UTF16, TAG_BYTES]) {
    for (const byteLength of [0, 1, 3, 4, 5, 100, 4096, MAX_KEY_BYTES]) {
      const header = blockHeader(byteLength, tag);
      t.is(headerTag(header), tag);
      t.is(header >>> BLOCK_TAG_BITS, byteLength);
      const block = allocateBlock(host, byteLength, tag);
      const words = host.refreshWords();
      t.is(Atomics.load(words, block), header, 'allocateBlock writes the header');
      t.is(payloadBytes(words, block, Atomics.load(words, block), MAX_VALUE_BYTES), byteLength);
    }
  }
});

// ---------------------------------------------------------------- allocate / free

test('allocate -> free -> allocate of the same class returns the same block; other classes do not take it', (t) => {
  const host = arena();
  const a = allocateBlock(host, 40, TAG_LATIN1); // 11 words -> class of 12
  const b = allocateBlock(host, 41, TAG_UTF16); // same class
  t.not(a, b);
  t.true(a >= FIXED_INTS && b >= a + blockSizeFor(40), 'blocks do not overlap');
  const cls = classFor(blockIntsFor(40));
  t.is(freeListLength(host, cls), 0);
  freeBlock(host, a);
  t.is(freeListLength(host, cls), 1);
  const topAfterFree = top(host);

  // Another class does not reuse it: it bump-allocates.
  const other = allocateBlock(host, 4, TAG_LATIN1);
  t.is(other, topAfterFree, 'a small block came from the bump pointer');
  t.is(freeListLength(host, cls), 1);

  // Same class, different length and tag: reuse.
  const again = allocateBlock(host, 44, TAG_BYTES);
  t.is(again, a);
  t.is(freeListLength(host, cls), 0);
  t.is(Atomics.load(host.refreshWords(), again), blockHeader(44, TAG_BYTES), 'header rewritten for the new payload');
  t.is(top(host), topAfterFree + blockSizeFor(4), 'reuse did not move ALLOC_TOP');
});

test('free lists are per class and LIFO; freeing many then allocating them back needs no new memory', (t) => {
  const host = arena();
  const lengths = [0, 4, 8, 12, 28, 60, 100, 333, 1024, 5000];
  const blocks = new Map<number, number[]>(); // class -> blocks
  for (let round = 0; round < 3; round++) {
    for (const byteLength of lengths) {
      const block = allocateBlock(host, byteLength, TAG_LATIN1);
      const c = classFor(blockIntsFor(byteLength));
      blocks.set(c, [...(blocks.get(c) ?? []), block]);
    }
  }
  const topBefore = top(host);
  for (const [, list] of blocks) for (const block of list) freeBlock(host, block);
  for (const [c, list] of blocks) t.is(freeListLength(host, c), list.length, `class ${c}`);
  t.is(freeListLength(host, classFor(blockIntsFor(2000))), 0, 'an untouched class stays empty');

  // LIFO within a class: the last freed comes back first.
  for (const [c, list] of blocks) {
    const size = ARENA_CLASS_SIZES[c] as number;
    const byteLength = (size - BLOCK_HEADER_INTS) * INT_BYTES; // the largest payload of the class
    for (let i = list.length - 1; i >= 0; i--) t.is(allocateBlock(host, byteLength, TAG_BYTES), list[i] as number);
    t.is(freeListLength(host, c), 0);
  }
  t.is(top(host), topBefore, 'no new memory was taken');
});

test('FULL: a bump allocation past maxBytes throws and leaves ALLOC_TOP, the buffer and every free list unchanged', (t) => {
  const maxBytes = FIXED_INTS * INT_BYTES + 64 * 1024;
  const host = arena(maxBytes);
  // Put something on a few free lists first.
  const small = allocateBlock(host, 8, TAG_LATIN1);
  const medium = allocateBlock(host, 200, TAG_LATIN1);
  freeBlock(host, small);
  freeBlock(host, medium);
  let filled = 0;
  for (;;) {
    try {
      allocateBlock(host, 1000, TAG_LATIN1);
      filled++;
    } catch (error) {
      t.true(error instanceof FlatshareFullError);
      t.is((error as FlatshareFullError).code, ErrorCode.FULL);
      break;
    }
  }
  t.true(filled > 10, `only ${filled} blocks fit`);
  const before = { top: top(host), bytes: host.memory.byteLength, records: classRecords(host) };
  for (const byteLength of [1000, 4000, 60_000, MAX_VALUE_BYTES]) {
    t.throws(() => allocateBlock(host, byteLength, TAG_UTF16), { code: ErrorCode.FULL }, `payload ${byteLength}`);
    t.deepEqual({ top: top(host), bytes: host.memory.byteLength, records: classRecords(host) }, before);
  }
  // The classes with free blocks still allocate from their lists at the limit.
  t.is(allocateBlock(host, 8, TAG_LATIN1), small);
  t.is(allocateBlock(host, 200, TAG_LATIN1), medium);
  t.is(top(host), before.top);
});

test('allocation grows the buffer; a host with a stale view refreshes it before writing the header', (t) => {
  const host = arena(1 << 26);
  const start = host.memory.byteLength;
  const block = allocateBlock(host, 3 << 20, TAG_BYTES); // 3 MiB: past the 1 MiB grow step
  t.true(host.memory.byteLength > start);
  t.true(host.view.length * INT_BYTES >= (block + blockSizeFor(3 << 20)) * INT_BYTES, 'the view covers the block');
  t.is(Atomics.load(host.view, block), blockHeader(3 << 20, TAG_BYTES));
  freeBlock(host, block);
  t.is(freeListLength(host, classFor(blockIntsFor(3 << 20))), 1);
});

test('freeBlock(NULL_BLOCK) is a no-op', (t) => {
  const host = arena();
  const before = classRecords(host);
  freeBlock(host, NULL_BLOCK);
  t.deepEqual(classRecords(host), before);
});

// ---------------------------------------------------------------- torn headers

test('payloadBytes rejects headers that claim more than the limit or the view, and null/negative blocks', (t) => {
  const words = new Int32Array(new SharedArrayBuffer(1024 * INT_BYTES));
  const last = words.length - 1;
  t.is(payloadBytes(words, 0, blockHeader(4, TAG_LATIN1), MAX_VALUE_BYTES), -1, 'NULL_BLOCK');
  t.is(payloadBytes(words, -5, blockHeader(4, TAG_LATIN1), MAX_VALUE_BYTES), -1, 'negative block');
  t.is(payloadBytes(words, 100, blockHeader(MAX_KEY_BYTES + 1, TAG_LATIN1), MAX_KEY_BYTES), -1, 'over the limit');
  t.is(payloadBytes(words, 100, -1, MAX_VALUE_BYTES), -1, 'all ones: 2^30 - 1 bytes');
  t.is(payloadBytes(words, last, blockHeader(0, TAG_LATIN1), MAX_VALUE_BYTES), 0, 'empty payload in the last word');
  t.is(payloadBytes(words, last, blockHeader(1, TAG_LATIN1), MAX_VALUE_BYTES), -1, 'payload past the view');
  t.is(payloadBytes(words, last - 1, blockHeader(4, TAG_LATIN1), MAX_VALUE_BYTES), 4, 'exactly to the end');
  t.is(payloadBytes(words, last - 1, blockHeader(5, TAG_LATIN1), MAX_VALUE_BYTES), -1, 'one byte past the end');
  t.is(payloadBytes(words, words.length, blockHeader(0, TAG_LATIN1), MAX_VALUE_BYTES), -1, 'block past the view');
});

test('payloadBytes on random header words and block indices never throws and never returns a length beyond the view', (t) => {
  const words = new Int32Array(new SharedArrayBuffer(4096 * INT_BYTES));
  let accepted = 0;
  fc.assert(
    fc.property(
      fc.oneof(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 20_000 }).map((n) => blockHeader(n, n & 3)),
      ),
      fc.oneof(fc.integer({ min: -10, max: words.length + 10 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
      fc.constantFrom(MAX_KEY_BYTES, MAX_VALUE_BYTES, 16, 0),
      (header, block, maxBytes) => {
        const n = payloadBytes(words, block, header, maxBytes);
        if (n === -1) return true;
        accepted++;
        return (
          Number.isInteger(n) &&
          n >= 0 &&
          n <= maxBytes &&
          block > 0 &&
          (block + BLOCK_HEADER_INTS) * INT_BYTES + n <= words.length * INT_BYTES
        );
      },
    ),
    { numRuns: 20_000 },
  );
  t.log(`${accepted} of 20000 random headers passed the bounds check`);
  t.true(accepted > 0, 'no random header was ever accepted: the property tested nothing');
});
