/**
 * For spec/unit/bucket-read-path.test.ts: a writer thread that rewrites one
 * lane's float64 value of a bucket, alternating between two values whose low
 * and high words both differ, under the bucket's seqlock exactly as a writer
 * does (SEQ odd while it writes, then SEQ + 2), until `stop` is set. A reader
 * that did not validate would see one value's low word with the other's high.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { VERSION_ONE, LOCKED } from '../../../lib/seqlock.js';

const { memory, seqAt, lowAt, highAt, stopAt, a, b } = workerData as {
  memory: { buffer: SharedArrayBuffer };
  seqAt: number;
  lowAt: number;
  highAt: number;
  stopAt: number;
  a: [number, number];
  b: [number, number];
};
const words = new Int32Array(memory.buffer);
let writes = 0;
while (Atomics.load(words, stopAt) === 0) {
  const next = writes % 2 === 0 ? b : a;
  const seq = Atomics.load(words, seqAt);
  Atomics.store(words, seqAt, seq | LOCKED);
  Atomics.store(words, lowAt, next[0]);
  Atomics.store(words, highAt, next[1]);
  Atomics.store(words, seqAt, (seq + VERSION_ONE) | 0);
  writes++;
}
parentPort?.postMessage(writes);
