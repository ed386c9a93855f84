/**
 * spec/unit/stale-views.test.ts, "platform": block in open() of a FIFO (a
 * native wait in which V8 handles no interrupts) while the main thread grows
 * the memory, then read `memory.buffer` with no function call in between.
 */
import { openSync, closeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { SharedWasmMemory } from '../../../lib/wasm/api.js';

const { memory, fifo } = workerData as { memory: SharedWasmMemory; fifo: string };
const port = parentPort as NonNullable<typeof parentPort>;
port.postMessage('ready');
const fd = openSync(fifo, 'r');
const stale = memory.buffer;
const staleBytes = stale.byteLength;
const word = new Int32Array(stale)[16_384];
memory.grow(0);
const fresh = new Int32Array(memory.buffer);
port.postMessage({ staleBytes, word, afterGrow0: fresh.byteLength, wordAfter: Atomics.load(fresh, 16_384) });
closeSync(fd);
