/**
 * maxBytes as the tests check it. The allocator never hands out a word past
 * maxBytes (H_ALLOC_TOP), and the memory, which grows in whole 64 KiB
 * WebAssembly pages, never commits more than pagesFor(maxBytes) pages.
 */
import type { ExecutionContext } from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { H_ALLOC_TOP, INT_BYTES } from '../../lib/layout.js';
import { WASM_PAGE_BYTES, pagesFor } from '../../lib/memory.js';

export function assertWithinMaxBytes(t: ExecutionContext, map: SharedFlatMap<unknown, unknown>, maxBytes: number): void {
  const internals = SharedFlatMap.unsafeExposeInternals(map);
  const allocatedBytes = Atomics.load(internals.words, H_ALLOC_TOP) * INT_BYTES;
  t.true(allocatedBytes <= maxBytes, `allocated ${allocatedBytes} bytes, maxBytes ${maxBytes}`);
  const committed = map.handle.memory.buffer.byteLength;
  t.true(committed <= pagesFor(maxBytes) * WASM_PAGE_BYTES, `committed ${committed} bytes, maxBytes ${maxBytes} in whole pages`);
}
