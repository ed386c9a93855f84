/**
 * The timing core shared by the single-thread children (case.ts for int32
 * keys, string-case.ts for string keys): warm-up, one benchmark.js run per
 * round, and the interleaved rounds that make every ratio a same-process ratio.
 */
import Benchmark from 'benchmark';
import type { Measurement } from './types.js';

/** What measureAll needs of a workload (workloads.ts / string-workloads.ts). */
export interface Timed {
  /** Operations per invocation. */
  batch: number;
  /** benchmark.js minTime for this workload (seconds), or undefined for benchmark.js's default. */
  minTime: number | undefined;
  /** One benchmark.js invocation. */
  fn: () => void;
  /** Untimed, after every benchmark.js cycle (and after each warm-up call). */
  onCycle: () => void;
}

export interface MeasureSpec {
  /** benchmark.js name prefix (shows in errors). */
  name: string;
  /** maxTime per implementation, seconds, split over the rounds. */
  maxTime: number;
  minSamples: number;
  /** Run order of the first round. */
  impls: ReadonlyArray<'flatshare' | 'Map'>;
  /** gc() (untimed) after every benchmark.js cycle: set-new at >= 100k, so dead maps are not collected inside a timed insert run. */
  gcEachCycle: boolean;
}

/** Warm-up before benchmark.js starts: at least this many calls, and about this share of maxTime. */
const WARMUP_MIN_CALLS = 3;
const WARMUP_SHARE = 0.15;
/** Interleaved benchmark.js rounds per implementation (see measureAll). */
export const ROUNDS = 3;

/** A disagreement between flatshare and Map: the child exits with status 2. */
export class SmokeCheckError extends Error {}

const gc = (globalThis as { gc?: () => void }).gc;

export function log(message: string): void {
  process.stderr.write(`  [case] ${message}\n`);
}

function warmUp(w: Timed, maxTime: number): void {
  const budgetMs = maxTime * WARMUP_SHARE * 1000;
  const start = performance.now();
  for (let calls = 0; calls < WARMUP_MIN_CALLS || performance.now() - start < budgetMs; calls++) {
    w.fn();
    w.onCycle();
  }
}

/** Two-tailed 95% Student t critical values by degrees of freedom (benchmark.js's table). */
const T_TABLE = [
  Number.NaN, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];
const T_INFINITY = 1.96;

/** One benchmark.js run of `w` (one round); returns its samples (seconds per invocation). */
function benchRound(name: string, w: Timed, spec: MeasureSpec, maxTime: number, minSamples: number): number[] {
  gc?.();
  const gcEachCycle = spec.gcEachCycle && gc !== undefined;
  const bench = new Benchmark(name, w.fn, {
    maxTime,
    minSamples,
    ...(w.minTime === undefined ? {} : { minTime: w.minTime }),
    onCycle: () => {
      w.onCycle();
      if (gcEachCycle) gc?.();
    },
  });
  bench.run({ async: false });
  const error = (bench as Benchmark & { error?: unknown }).error;
  if (error !== undefined) throw error instanceof Error ? error : new Error(String(error));
  return bench.stats.sample.slice();
}

/** Minimum samples per benchmark.js run in the separate scripts (hashers.ts, maps.ts). */
const SCRIPT_MIN_SAMPLES = 5;

/**
 * One benchmark.js run of `fn`, which does `batch` operations per call: ns per
 * operation and benchmark.js's relative margin of error (percent). Used by the
 * separate scripts (hashers.ts, maps.ts), which time plain loops.
 */
export function measureBatch(name: string, fn: () => void, batch: number, maxTimeS: number): { ns: number; rme: number } {
  const bench = new Benchmark(name, fn, { maxTime: maxTimeS, minSamples: SCRIPT_MIN_SAMPLES });
  bench.run();
  return { ns: (bench.stats.mean * 1e9) / batch, rme: bench.stats.rme };
}

/** `os.loadavg()` as "1.00 / 0.50 / 0.25" (1, 5 and 15 minutes). */
export function formatLoad(load: number[]): string {
  return load.map((x) => x.toFixed(2)).join(' / ');
}

/** The median (the mean of the two middle values for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Measure both implementations in ROUNDS interleaved rounds (Map, flatshare,
 * then flatshare, Map, ...), each round a benchmark.js run of maxTime / ROUNDS.
 * On a shared machine a burst of load then lands on both sides instead of on
 * whichever happened to be running. ns/op is the mean of all samples of all
 * rounds divided by the batch; rme is computed from those pooled samples the
 * way benchmark.js computes it (95% margin of error of the mean, in percent).
 */
export function measureAll(spec: MeasureSpec, w: Record<'flatshare' | 'Map', Timed>, label: Record<'flatshare' | 'Map', string>): Measurement[] {
  for (const impl of spec.impls) warmUp(w[impl], spec.maxTime);
  const roundTime = spec.maxTime / ROUNDS;
  const roundSamples = Math.max(2, Math.ceil(spec.minSamples / ROUNDS));
  const samples: Record<'flatshare' | 'Map', number[]> = { flatshare: [], Map: [] };
  const roundMeans: Record<'flatshare' | 'Map', number[]> = { flatshare: [], Map: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? spec.impls : [...spec.impls].reverse();
    for (const impl of order) {
      const s = benchRound(`${spec.name} ${label[impl]}`, w[impl], spec, roundTime, roundSamples);
      samples[impl].push(...s);
      roundMeans[impl].push((mean(s) / w[impl].batch) * 1e9);
    }
  }
  return spec.impls.map((impl) => {
    const s = samples[impl];
    const m = mean(s);
    const sd = Math.sqrt(s.reduce((acc, x) => acc + (x - m) ** 2, 0) / (s.length - 1));
    const critical = T_TABLE[s.length - 1] ?? T_INFINITY;
    const sorted = s.slice().sort((a, b) => a - b);
    const result: Measurement = {
      impl,
      nsPerOp: (m / w[impl].batch) * 1e9,
      rme: ((critical * sd) / Math.sqrt(s.length) / m) * 100,
      samples: s.length,
      batch: w[impl].batch,
      medianNsPerOp: ((sorted[sorted.length >> 1] as number) / w[impl].batch) * 1e9,
      roundNsPerOp: roundMeans[impl],
    };
    log(
      `${label[impl]}: ${result.nsPerOp.toFixed(2)} ns/op ±${result.rme.toFixed(1)}% ` +
        `(${result.samples} samples of ${w[impl].batch}-op invocations; rounds ${roundMeans[impl].map((r) => r.toFixed(1)).join(' / ')})`,
    );
    return result;
  });
}
