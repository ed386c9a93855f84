/**
 * Shared helpers of the cross-thread stress tests (spec/stress/).
 *
 * Main-thread side: `runWorker` (a Worker as a promise, with a watchdog),
 * the two read-path modes (`MODES`, `assertMode`), seeds. Worker side:
 * `finishWorker`, `FillerChurn` (inserts and deletes keys of a private range
 * so the table keeps migrating). Both sides, over SharedArrayBuffers:
 * `Barrier`, `Clock` (the logical clock of histories), `StopFlag`, `Tally`.
 *
 * This module must not import ava at run time: workers import it too.
 *
 * Read-path modes: `FLATSHARE_STRICT_ATOMICS` is read once, when lib/seqlock.js
 * is loaded, so each mode needs its own thread. Every worker is started with
 * an explicit environment (the variable removed for the platform default, set
 * to '1' for the all-Atomics path) and reports which path it really ran
 * (`orderedPlainLoads`), which the tests assert. Map creation and iteration do
 * not depend on the mode (they only use Atomics), so creating the map on the
 * main thread is fine for both modes; the main thread's own reads happen only
 * after the workers are done.
 */
import { Worker, parentPort } from 'node:worker_threads';
import type { ExecutionContext } from 'ava';
import { SharedFlatMap } from '../../lib/index.js';
import { ORDERED_PLAIN_LOADS } from '../../lib/seqlock.js';
import { genOf } from '../../lib/epoch.js';
import { H_EPOCH } from '../../lib/layout.js';
import { readTableInfo } from '../../lib/table.js';
import { SeededPrng } from '../helpers/prng.js';

// ---------------------------------------------------------------- modes

/** Environment variable that forces the all-Atomics read path (read at module load). */
export const STRICT_ATOMICS_ENV = 'FLATSHARE_STRICT_ATOMICS';

/** A read-path mode the tests run in. */
export interface Mode {
  readonly name: 'default' | 'strict-atomics';
  readonly strict: boolean;
}

export const DEFAULT_MODE: Mode = { name: 'default', strict: false };
export const STRICT_MODE: Mode = { name: 'strict-atomics', strict: true };
/** Both read paths: every stress scenario runs in each. */
export const MODES: readonly Mode[] = [DEFAULT_MODE, STRICT_MODE];

/** The environment a worker of `mode` gets. */
export function modeEnv(mode: Mode): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (mode.strict) env[STRICT_ATOMICS_ENV] = '1';
  else delete env[STRICT_ATOMICS_ENV];
  return env;
}

/** Whether lib/seqlock.ts uses plain payload loads in a worker of `mode` on this CPU. */
export function expectedOrderedPlainLoads(mode: Mode): boolean {
  return !mode.strict && (process.arch === 'x64' || process.arch === 'ia32');
}

// ---------------------------------------------------------------- workers

/** Longest a stress worker may run before the test gives up on it (a hang is a failure, not a timeout). */
export const WORKER_WATCHDOG_MS = 60_000;

/** What every stress worker posts back: its result and the read path it actually used. */
export interface WorkerReport<R> {
  result: R;
  orderedPlainLoads: boolean;
}

/**
 * Start `url` as a worker in `mode` and resolve with its report. Rejects when
 * the worker throws, exits without reporting, or outlives the watchdog.
 */
export function runWorker<D, R>(url: URL, workerData: D, mode: Mode): Promise<WorkerReport<R>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(url, { workerData, env: modeEnv(mode) });
    let report: WorkerReport<R> | undefined;
    const watchdog = setTimeout(() => {
      reject(new Error(`worker ${url.pathname} still running after ${WORKER_WATCHDOG_MS} ms: hung or livelocked`));
      void worker.terminate();
    }, WORKER_WATCHDOG_MS);
    worker.on('message', (message: WorkerReport<R>) => {
      report = message;
    });
    worker.on('error', (error) => {
      clearTimeout(watchdog);
      // Keep the worker's own stack in the message: ava prints only the rejection site.
      reject(new Error(`worker ${url.pathname} threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`));
    });
    worker.on('exit', (code) => {
      clearTimeout(watchdog);
      if (report !== undefined) resolve(report);
      else reject(new Error(`worker ${url.pathname} exited with code ${code} without reporting`));
    });
  });
}

/** Worker side: post the result (with the read path this thread used) to the test. */
export function finishWorker<R>(result: R): void {
  const report: WorkerReport<R> = { result, orderedPlainLoads: ORDERED_PLAIN_LOADS };
  if (parentPort === null) throw new Error('finishWorker called outside a worker');
  parentPort.postMessage(report);
}

/** Assert that every worker ran the read path of `mode`, so both paths are really exercised. */
export function assertMode(t: ExecutionContext, mode: Mode, reports: readonly WorkerReport<unknown>[]): void {
  const expected = expectedOrderedPlainLoads(mode);
  for (const report of reports) {
    if (report.orderedPlainLoads !== expected) {
      t.fail(`a worker in mode ${mode.name} used orderedPlainLoads=${report.orderedPlainLoads}, expected ${expected}`);
      return;
    }
  }
  t.pass();
}

// ---------------------------------------------------------------- seeds

/**
 * The seed of a randomized test: `FLATSHARE_SEED` if set, else fresh. Logged
 * for replay. A replay repeats every worker's choices (keys, operations,
 * values), not the threads' interleaving, so a race may need a few replays.
 */
export function testSeed(t: ExecutionContext): number {
  const seed = SeededPrng.seedFromEnv();
  t.log(`seed ${seed} (replay: FLATSHARE_SEED=${seed} npx ava ${t.title === '' ? '' : `--match '${t.title}'`})`);
  return seed;
}

/** `count` independent worker seeds derived from one test seed. */
export function workerSeeds(seed: number, count: number): number[] {
  const prng = new SeededPrng(seed);
  return Array.from({ length: count }, () => prng.next());
}

// ---------------------------------------------------------------- time

/** A Date.now() deadline `budgetMs` from now; workers stop their loops there. */
export function deadlineIn(budgetMs: number): number {
  return Date.now() + budgetMs;
}

/** Check the deadline only every this many operations (Date.now costs ~30-50 ns). */
export const DEADLINE_CHECK_EVERY = 256;

/** Logical clock shared by all threads: one Int32 word bumped with Atomics.add. */
export class Clock {
  static readonly BYTES = Int32Array.BYTES_PER_ELEMENT;
  private readonly word: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.word = new Int32Array(buffer, 0, 1);
  }

  static create(): SharedArrayBuffer {
    return new SharedArrayBuffer(Clock.BYTES);
  }

  /** A timestamp strictly greater than every one taken before it, by any thread. */
  tick(): number {
    return Atomics.add(this.word, 0, 1) + 1;
  }
}

// ---------------------------------------------------------------- barrier

const BARRIER_ARRIVED = 0; // threads arrived in the current round
const BARRIER_ROUND = 1; // round number; bumped by the last arrival
const BARRIER_INTS = 2;
/** One Atomics.wait slice while waiting at a barrier. */
const BARRIER_WAIT_SLICE_MS = 50;
/** A barrier nobody completes for this long means a peer died: fail instead of hanging. */
export const BARRIER_TIMEOUT_MS = 30_000;

/** Reusable barrier for `parties` threads over a SharedArrayBuffer. */
export class Barrier {
  private readonly words: Int32Array;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly parties: number,
  ) {
    this.words = new Int32Array(buffer, 0, BARRIER_INTS);
  }

  static create(): SharedArrayBuffer {
    return new SharedArrayBuffer(BARRIER_INTS * Int32Array.BYTES_PER_ELEMENT);
  }

  /** Block until all parties have called wait() for this round. */
  wait(): void {
    const words = this.words;
    const round = Atomics.load(words, BARRIER_ROUND);
    if (Atomics.add(words, BARRIER_ARRIVED, 1) + 1 === this.parties) {
      Atomics.store(words, BARRIER_ARRIVED, 0);
      Atomics.add(words, BARRIER_ROUND, 1);
      Atomics.notify(words, BARRIER_ROUND);
      return;
    }
    const giveUp = Date.now() + BARRIER_TIMEOUT_MS;
    while (Atomics.load(words, BARRIER_ROUND) === round) {
      if (Date.now() > giveUp) throw new Error(`barrier: round ${round} not completed in ${BARRIER_TIMEOUT_MS} ms`);
      Atomics.wait(words, BARRIER_ROUND, round, BARRIER_WAIT_SLICE_MS);
    }
  }
}

// ---------------------------------------------------------------- stop flag

/** A one-word flag the main thread raises to stop open-ended workers (e.g. churners). */
export class StopFlag {
  private readonly word: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.word = new Int32Array(buffer, 0, 1);
  }

  static create(): SharedArrayBuffer {
    return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  }

  raise(): void {
    Atomics.store(this.word, 0, 1);
  }

  get raised(): boolean {
    return Atomics.load(this.word, 0) !== 0;
  }
}

// ---------------------------------------------------------------- tally

/**
 * Shared counts of integer results in [1, maxValue], one row per key: lets
 * workers record every value a call returned (e.g. add) so the test can check
 * that each possible value was returned exactly once.
 */
export class Tally {
  private readonly counts: Uint8Array;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly maxValue: number,
  ) {
    this.counts = new Uint8Array(buffer);
  }

  static create(rows: number, maxValue: number): SharedArrayBuffer {
    return new SharedArrayBuffer(rows * (maxValue + 1));
  }

  private index(row: number, value: number): number {
    return row * (this.maxValue + 1) + value;
  }

  /** Count `value` in `row`; false (and nothing counted) when it is not an integer in [1, maxValue]. */
  mark(row: number, value: number): boolean {
    if (!Number.isInteger(value) || value < 1 || value > this.maxValue) return false;
    Atomics.add(this.counts, this.index(row, value), 1);
    return true;
  }

  /** Values in [1, maxValue] of `row` not counted exactly once, as "value xN". */
  irregular(row: number, limit: number): string[] {
    const found: string[] = [];
    for (let value = 1; value <= this.maxValue && found.length < limit; value++) {
      const count = Atomics.load(this.counts, this.index(row, value));
      if (count !== 1) found.push(`${value} x${count}`);
    }
    return found;
  }
}

// ---------------------------------------------------------------- resizes

/** First key of the filler ranges; history / stable keys stay below it. */
export const FILLER_KEY_BASE = 1_000_000;
/** Keys per filler range (one range per thread); a range is reused from its start after this many inserts. */
export const FILLER_KEY_SPAN = 1_000_000;

/** First key of thread `thread`'s private filler range. */
export function fillerRangeStart(thread: number): number {
  return FILLER_KEY_BASE + thread * FILLER_KEY_SPAN;
}

/**
 * Keeps the table migrating: every step inserts a never-live key of a private
 * range and, past `maxLive` live keys, deletes the oldest one. Inserts into
 * fresh keys use up the table's insert budget (tombstones count), so a table
 * migrates every few hundred steps without growing without bound.
 */
export class FillerChurn {
  private readonly live: number[] = [];
  private head = 0;
  private counter = 0;
  inserted = 0;

  constructor(
    private readonly map: SharedFlatMap<number, number>,
    private readonly firstKey: number,
    private readonly maxLive: number,
    private readonly valueOf: (key: number) => number = (key) => key,
  ) {
    if (maxLive >= FILLER_KEY_SPAN) throw new RangeError('FillerChurn: maxLive must be below FILLER_KEY_SPAN');
  }

  /** Delete every live filler key, leaving none behind. */
  drain(): void {
    for (let i = this.head; i < this.live.length; i++) this.map.delete(this.live[i] as number);
    this.live.length = 0;
    this.head = 0;
  }

  step(): void {
    const key = this.firstKey + (this.counter++ % FILLER_KEY_SPAN);
    this.map.set(key, this.valueOf(key));
    this.inserted++;
    this.live.push(key);
    if (this.live.length - this.head > this.maxLive) {
      this.map.delete(this.live[this.head++] as number);
      if (this.head > this.maxLive) {
        this.live.splice(0, this.head);
        this.head = 0;
      }
    }
  }
}

/** The table generation of `map` as this thread sees it now (one per completed migration or clear). */
export function generationOf<K, V>(map: SharedFlatMap<K, V>): number {
  return SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen;
}

/** How often a CapacitySampler looks at the current table, in ms. */
export const CAPACITY_SAMPLE_MS = 1;

/**
 * Records the capacities of the tables a map goes through while workers
 * resize it, read from the shared words (the epoch, then the table
 * descriptor), on this thread's event loop, until `stop()`. A migration
 * shorter than the sampling interval can be missed.
 */
export class CapacitySampler {
  readonly seen = new Set<number>();
  private readonly timer: NodeJS.Timeout;

  constructor(map: SharedFlatMap<unknown, unknown>) {
    const memory = map.handle.memory;
    const sample = (): void => {
      const words = new Int32Array(memory.buffer);
      this.seen.add(readTableInfo(words, genOf(Atomics.load(words, H_EPOCH))).buckets);
    };
    sample();
    this.timer = setInterval(sample, CAPACITY_SAMPLE_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
