/**
 * Why 90 % reads / 10 % writes from 2 workers scales less than reads alone:
 * the same workers, op mix and map, with the workers either spread over all
 * keys (the suite's `mt` workload) or each confined to its own half of the
 * table, so that no cache line is written by one worker and read by the other.
 *
 * Cells: read share (100 %, 90 % + 10 % overwrites) x (1 worker over all keys,
 * 2 workers over all keys, 2 workers over their own half). The halves split
 * the keys in table order (`map.keys()` walks the slots in order), so worker 0
 * reads and writes only the lower half of the table and worker 1 only the upper
 * half. Each cell runs ROUNDS times, the order reversed every other round;
 * a round starts fresh workers, warms them up for WARM_UP_MS, then counts ops in
 * a WINDOW_MS window between two shared flags. Aggregate = sum over workers of
 * ops / own time; a cell reports its median round. Before timing, each worker
 * checks that every key of its stream maps to that key's value tag.
 *
 * Then the cost model: HAND_OFFS round trips of one word between two workers
 * give the price of one cache-line hand-off between the cores, and the table
 * ends with what the shared cells cost per op over one worker, against what
 * uniformly random keys predict (see `transfersPerOp`).
 *
 * Not part of `npm run bench` (which measures the alternatives); a diagnosis.
 * Run: `npm run bench:sharing` (builds first), or
 * `node build/benchmarks/sharing.js [entries]` (default 100000). Prints a
 * markdown table; results in docs/benchmarks.md, "BRIEF §6 targets".
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../lib/index.js';
import { median } from './measure.js';
import { Prng, distinctKeys } from './prng.js';

const WINDOW_MS = 300;
const WARM_UP_MS = 100;
const ROUNDS = 5;
/** Per-worker stream of pre-drawn keys (a power of two: the index wraps with a mask). */
const STREAM = 1 << 16;
const CHUNK = 1024;
/** One op in WRITE_EVERY is an overwrite in the mixed cells. */
const WRITE_EVERY = 10;
/** Overwrites toggle this bit, so `value & VALUE_MASK` stays the key's tag. */
const VALUE_FLIP = 1 << 30;
const VALUE_MASK = VALUE_FLIP - 1;
const CTL_GO = 0;
const CTL_STOP = 1;
const SEED = 20261202;
/** Round trips of the ping-pong that prices one line hand-off (two hand-offs each). */
const HAND_OFFS = 1_000_000;
/** Ping-pong runs; the median is reported. */
const HAND_OFF_RUNS = 3;
/** The aggregate the BRIEF asks of 90/10 from 2 workers, in units of one worker. */
const TARGET_SCALING = 1.5;
const NS_PER_MS = 1e6;
const WORKERS = 2;

type Mix = 'r100' | 'r90';
type Spread = 'all' | 'half';
interface WorkerInput {
  handle: SharedFlatMapHandle;
  keys: Int32Array;
  ctl: Int32Array;
  mix: Mix;
  seed: number;
}
interface HandOffInput {
  handOff: Int32Array;
  id: number;
}
interface WorkerOutput {
  ops: number;
  ms: number;
  sink: number;
}

/** The value stored for key `k` (its tag): any pure function of the key below VALUE_FLIP. */
function tagOf(k: number): number {
  return (k >>> 2) & VALUE_MASK;
}

async function main(): Promise<void> {
  const entries = Number(process.argv[2] ?? 100_000);
  const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
  for (const k of distinctKeys(new Prng(SEED), entries)) map.set(k, tagOf(k));
  const inTableOrder = Int32Array.from(map.keys());
  const half = entries >> 1;
  const ctl = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  const cells: Array<[Mix, Spread, number]> = [];
  for (const mix of ['r100', 'r90'] as const) {
    cells.push([mix, 'all', 1], [mix, 'all', 2], [mix, 'half', 2]);
  }
  const results = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [mix, spread, workers] of round % 2 === 0 ? cells : [...cells].reverse()) {
      const runs: Promise<WorkerOutput>[] = [];
      for (let w = 0; w < workers; w++) {
        const keys = spread === 'all' ? inTableOrder : inTableOrder.subarray(w * half, (w + 1) * half);
        const input: WorkerInput = { handle: map.handle, keys, ctl, mix, seed: SEED + 1_000 * round + w };
        runs.push(runSelf<WorkerOutput>(input));
      }
      await sleep(WARM_UP_MS + 50);
      Atomics.store(ctl, CTL_GO, 1);
      await sleep(WINDOW_MS);
      Atomics.store(ctl, CTL_STOP, 1);
      const outputs = await Promise.all(runs);
      Atomics.store(ctl, CTL_GO, 0);
      Atomics.store(ctl, CTL_STOP, 0);
      const mops = outputs.reduce((sum, r) => sum + r.ops / r.ms / 1_000, 0);
      const key = `${mix}/${spread}/${workers}`;
      results.set(key, [...(results.get(key) ?? []), mops]);
    }
  }
  console.log(`${entries} int32 entries, ${process.version}, ${ROUNDS} rounds of ${WINDOW_MS} ms, median round (Mops/s)\n`);
  console.log('| reads | 1 worker, all keys | 2 workers, all keys | 2 workers, own half of the table |');
  console.log('|---|---:|---:|---:|');
  for (const mix of ['r100', 'r90'] as const) {
    const one = median(results.get(`${mix}/all/1`) as number[]);
    const cell = (spread: Spread): string => {
      const m = median(results.get(`${mix}/${spread}/2`) as number[]);
      return `${m.toFixed(1)} (${(m / one).toFixed(2)}×)`;
    };
    console.log(`| ${mix === 'r100' ? '100 %' : '90 % + 10 % overwrites'} | ${one.toFixed(1)} | ${cell('all')} | ${cell('half')} |`);
  }
  const handOffs: number[] = [];
  for (let run = 0; run < HAND_OFF_RUNS; run++) handOffs.push(await handOffNs());
  const handOff = median(handOffs);
  const nsPerOp = (mops: number): number => 1_000 / mops;
  const oneNs = nsPerOp(median(results.get('r90/all/1') as number[]));
  const sharedNs = nsPerOp(median(results.get('r90/all/2') as number[]) / WORKERS);
  const readShare = 1 - 1 / WRITE_EVERY;
  const predicted = transfersPerOp(readShare) * handOff;
  console.log(
    `\nCost model, 90 % + 10 %: one line hand-off between the workers ${handOff.toFixed(0)} ns (ping-pong, median of ${HAND_OFF_RUNS}); ` +
      `one worker ${oneNs.toFixed(1)} ns/op; all keys from 2 workers ${sharedNs.toFixed(1)} ns/op each, ` +
      `${(sharedNs - oneNs).toFixed(1)} ns/op more; uniformly random keys predict ${transfersPerOp(readShare).toFixed(3)} hand-offs/op ` +
      `= ${predicted.toFixed(1)} ns/op (the writes alone ${writeTransfersPerOp(readShare).toFixed(3)} ` +
      `= ${(writeTransfersPerOp(readShare) * handOff).toFixed(1)} ns/op); ${TARGET_SCALING}× one worker allows ${(oneNs * (WORKERS / TARGET_SCALING - 1)).toFixed(1)} ns/op.`,
  );
}

/**
 * Cross-core line hand-offs per op when two workers run the same op mix over
 * uniformly random keys, so that the events on any one line are a random
 * interleaving of both workers' ops (cache misses that one worker alone pays
 * are in the 1-worker cell already):
 * - a read pays one when the line's last write since this worker's own last
 *   touch came from the other worker: writeShare / (1 + writeShare);
 * - a write pays one (a transfer or an invalidation) when the other worker
 *   touched the line since this worker did: 1/2.
 * The model ignores seqlock retries (a read overlapping a write of its line),
 * which only add to it.
 */
export function transfersPerOp(readShare: number): number {
  return readTransfersPerOp(readShare) + writeTransfersPerOp(readShare);
}
/** The reads' part of transfersPerOp. */
export function readTransfersPerOp(readShare: number): number {
  const writeShare = 1 - readShare;
  return (readShare * writeShare) / (1 + writeShare);
}
/** The writes' part of transfersPerOp: what any map pays whose write touches one shared line. */
export function writeTransfersPerOp(readShare: number): number {
  return (1 - readShare) / 2;
}

/** Nanoseconds of one hand-off of a line between two workers: a ping-pong of one word. */
async function handOffNs(): Promise<number> {
  const handOff = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
  const [ms] = await Promise.all([0, 1].map((id) => runSelf<number>({ handOff, id })));
  return ((ms as number) * NS_PER_MS) / (2 * HAND_OFFS);
}

/** Worker `id` waits for the word to reach its turn (2i + id), then passes it on. */
function pingPong(input: HandOffInput): number {
  const start = performance.now();
  for (let i = 0; i < HAND_OFFS; i++) {
    const turn = 2 * i + input.id;
    while (Atomics.load(input.handOff, 0) !== turn);
    Atomics.store(input.handOff, 0, turn + 1);
  }
  return performance.now() - start;
}

/** This file in a new worker with `input` (workerData); resolves with the one message it posts. */
function runSelf<T>(input: WorkerInput | HandOffInput): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: input });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function work(input: WorkerInput): WorkerOutput {
  const map = SharedFlatMap.attach<number, number>(input.handle);
  const prng = new Prng(input.seed >>> 0);
  const stream = new Int32Array(STREAM);
  const write = new Uint8Array(STREAM);
  for (let i = 0; i < STREAM; i++) {
    stream[i] = input.keys[prng.below(input.keys.length)] as number;
    write[i] = input.mix === 'r90' && prng.below(WRITE_EVERY) === 0 ? 1 : 0;
  }
  for (let i = 0; i < STREAM; i++) {
    const k = stream[i] as number;
    if (((map.get(k) as number) & VALUE_MASK) !== tagOf(k)) throw new Error(`smoke check: key ${k} has the wrong value`);
  }
  let sink = 0;
  let p = 0;
  let flip = 0;
  const chunk = (): void => {
    flip ^= VALUE_FLIP;
    for (let j = 0; j < CHUNK; j++) {
      const k = stream[p] as number;
      if (write[p] === 1) map.set(k, tagOf(k) | flip);
      else sink = (sink + (map.get(k) as number)) | 0;
      p = (p + 1) & (STREAM - 1);
    }
  };
  const warmUntil = performance.now() + WARM_UP_MS;
  while (performance.now() < warmUntil) chunk();
  while (Atomics.load(input.ctl, CTL_GO) === 0);
  let ops = 0;
  const start = performance.now();
  while (Atomics.load(input.ctl, CTL_STOP) === 0) {
    chunk();
    ops += CHUNK;
  }
  return { ops, ms: performance.now() - start, sink };
}

if (isMainThread) {
  await main();
} else {
  const input = workerData as WorkerInput | HandOffInput;
  (parentPort as NonNullable<typeof parentPort>).postMessage('handOff' in input ? pingPong(input) : work(input));
}
