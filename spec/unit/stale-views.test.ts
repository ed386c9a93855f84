/**
 * A reader whose views of the memory end before a block that another thread
 * allocated after growing the memory: the validated slot points past the
 * views, the block read says TORN, and the read must refresh its views and
 * return the value (it used to throw "a validated slot references an invalid
 * arena block"; the string stress tests hit it now and then).
 */
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SharedFlatMap } from '../../lib/index.js';
import { WASM_PAGE_BYTES, WasmSharedMemory, ensureBytes } from '../../lib/memory.js';
import { wasmApi, type SharedWasmMemory, type WasmApi } from '../../lib/wasm/api.js';

const { Memory } = wasmApi as WasmApi;

const BIG = 'x'.repeat(3 << 20); // 3 MiB of Latin-1: more than one grow step

for (const keys of ['string', 'int32'] as const) {
  for (const values of ['string', 'json', 'bytes'] as const) {
    test(`${keys} keys, ${values} values: a value block past the reader's views is read after a refresh`, (t) => {
      const writer = new SharedFlatMap<string | number, unknown>({ keys, values, capacity: 64, maxBytes: 1 << 26 });
      const key = keys === 'string' ? 'the-key' : 12345;
      const other = keys === 'string' ? 'filler' : 777;
      const v = (s: string): unknown => (values === 'bytes' ? new Uint8Array(Buffer.from(s)) : values === 'json' ? { s } : s);
      writer.set(key, v('old'));
      const reader = SharedFlatMap.attach<string | number, unknown>(writer.handle);
      t.deepEqual(reader.get(key), v('old'));
      const viewBytes = SharedFlatMap.unsafeExposeInternals(reader).words.length * 4;
      // Grow the memory from the writer, then publish a value block beyond the reader's views.
      writer.set(other, values === 'bytes' ? new Uint8Array(BIG.length) : values === 'json' ? { s: BIG } : BIG);
      writer.set(key, v('new'));
      t.true(writer.byteLength > viewBytes, 'the memory grew past the reader views');
      t.deepEqual(reader.get(key), v('new'));
      t.is(reader.has(key), true);
    });
  }
}

// ---------------------------------------------------------------- a stale memory.buffer
//
// On Node 20 a thread's `memory.buffer` can be the shorter buffer from before
// another thread's grow for a while after it has seen data the grower wrote
// into the new pages (lib/memory.ts; the first test below shows it). The map
// must then neither throw "invalid arena block" nor index past its views: it
// bounds its views by H_ALLOC_TOP and refreshes the buffer with grow(0).
// The other tests simulate that state in one thread: `memory.buffer` returns
// the old buffer until this thread calls `memory.grow`, which is what V8 does.

const FIFO_DIR = mkdtempSync(join(tmpdir(), 'flatshare-stale-'));
test.after.always(() => rmSync(FIFO_DIR, { recursive: true, force: true }));

test('platform: another thread grows the memory; this thread still sees the old memory.buffer until it calls grow(0)', async (t) => {
  if (process.platform === 'win32') {
    t.pass('needs a FIFO (mkfifo): not on Windows');
    return;
  }
  const fifo = join(FIFO_DIR, 'wake');
  execFileSync('mkfifo', [fifo]);
  const memory = new Memory({ initial: 1, maximum: 16, shared: true });
  const worker = new Worker(new URL('./workers/stale-buffer.worker.js', import.meta.url), { workerData: { memory, fifo } });
  const message = (): Promise<unknown> => new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await message(); // the worker is about to block in open(): a native wait that handles no V8 interrupts
  await new Promise((resolve) => setTimeout(resolve, 50));
  memory.grow(1);
  Atomics.store(new Int32Array(memory.buffer), WASM_PAGE_BYTES / 4, 42); // a word in the new page
  const done = message();
  const fd = openSync(fifo, 'w'); // wakes the worker
  const seen = (await done) as { staleBytes: number; word: number | undefined; afterGrow0: number; wordAfter: number };
  closeSync(fd);
  await worker.terminate();
  t.is(seen.staleBytes, WASM_PAGE_BYTES, 'memory.buffer in the woken thread is still the one-page buffer');
  t.is(seen.word, undefined, 'the new page is past that buffer');
  t.is(seen.afterGrow0, 2 * WASM_PAGE_BYTES, 'grow(0) gave it the two-page buffer');
  t.is(seen.wordAfter, 42);
});

/** Make `memory.buffer` return `stale` until this thread calls `memory.grow` (V8's behaviour, simulated). */
function simulateStaleBuffer(memory: SharedWasmMemory, stale: ArrayBuffer | SharedArrayBuffer): () => void {
  const proto = Memory.prototype as SharedWasmMemory;
  const realBuffer = (Object.getOwnPropertyDescriptor(proto, 'buffer') as PropertyDescriptor).get as () => ArrayBuffer;
  let isStale = true;
  Object.defineProperty(memory, 'buffer', {
    configurable: true,
    get(this: SharedWasmMemory) {
      return isStale ? stale : realBuffer.call(this);
    },
  });
  Object.defineProperty(memory, 'grow', {
    configurable: true,
    writable: true,
    value(this: SharedWasmMemory, pages: number) {
      const before = proto.grow.call(this, pages); // a grow that throws leaves the buffer stale
      isStale = false;
      return before;
    },
  });
  return () => {
    Reflect.deleteProperty(memory, 'buffer');
    Reflect.deleteProperty(memory, 'grow');
  };
}

test('bufferCovering: a stale buffer shorter than asked for is refreshed (grow(0)), a long enough one is returned as is', (t) => {
  const real = new Memory({ initial: 1, maximum: 16, shared: true });
  const memory = new WasmSharedMemory(real, 16 * WASM_PAGE_BYTES);
  const old = real.buffer;
  real.grow(2);
  const restore = simulateStaleBuffer(real, old);
  try {
    t.is(memory.bufferCovering(WASM_PAGE_BYTES).byteLength, WASM_PAGE_BYTES, 'long enough: no grow');
    t.is(real.buffer, old, 'still stale: bufferCovering did not grow');
    t.is(memory.bufferCovering(2 * WASM_PAGE_BYTES).byteLength, 3 * WASM_PAGE_BYTES);
    t.is(real.buffer.byteLength, 3 * WASM_PAGE_BYTES, 'grow(0) added no page');
  } finally {
    restore();
  }
});

test('ensureBytes with a stale length at the maximum: no RangeError when the memory is long enough already', (t) => {
  const real = new Memory({ initial: 1, maximum: 4, shared: true });
  const memory = new WasmSharedMemory(real, 4 * WASM_PAGE_BYTES);
  const old = real.buffer;
  real.grow(3); // another thread took the memory to its maximum
  const restore = simulateStaleBuffer(real, old);
  try {
    // From the stale one-page length, growing by a page would pass the maximum.
    t.notThrows(() => ensureBytes(memory, 2 * WASM_PAGE_BYTES));
    t.is(real.buffer.byteLength, 4 * WASM_PAGE_BYTES, 'refreshed, nothing added');
  } finally {
    restore();
  }
});

type StaleOp = 'get' | 'compareAndSet' | 'delete' | 'overwrite' | 'iterate';

for (const keys of ['string', 'int32'] as const) {
  for (const op of ['get', 'compareAndSet', 'delete', 'overwrite', 'iterate'] as StaleOp[]) {
    test(`${keys} keys, string values, stale memory.buffer: ${op} of a value whose block lies past the reader's buffer`, (t) => {
      const writer = new SharedFlatMap<string | number, string>({ keys, values: 'string', capacity: 64, maxBytes: 1 << 26 });
      const key = keys === 'string' ? 'the-key' : 12345;
      writer.set(key, 'old');
      const reader = SharedFlatMap.attach<string | number, string>(writer.handle);
      t.is(reader.get(key), 'old');
      const { memory } = SharedFlatMap.unsafeExposeInternals(writer as SharedFlatMap<unknown, unknown>);
      const real = (memory as WasmSharedMemory).memory;
      const old = real.buffer;
      // Another thread, in effect: grow the memory and publish a value block beyond the old buffer.
      writer.set(keys === 'string' ? 'filler' : 777, BIG);
      writer.set(key, 'new');
      t.true(writer.byteLength > old.byteLength, 'the memory grew');
      const restore = simulateStaleBuffer(real, old);
      try {
        if (op === 'get') t.is(reader.get(key), 'new');
        else if (op === 'compareAndSet') t.true(reader.compareAndSet(key, 'new', 'newer'));
        else if (op === 'delete') t.true(reader.delete(key));
        else if (op === 'overwrite') reader.set(key, 'newer'); // frees the block past the old buffer
        else t.deepEqual(new Map(reader.entries()).get(key), 'new');
      } finally {
        restore();
      }
      const expected = op === 'compareAndSet' || op === 'overwrite' ? 'newer' : op === 'delete' ? undefined : 'new';
      t.is(writer.get(key), expected);
      t.is(reader.get(key), expected);
    });
  }
}
