/**
 * Types of the multi-worker benchmark jobs (mt-case.ts, one child process per
 * job, and mt-worker.ts, the worker_threads it starts). Like types.ts: the
 * child gets its config as a JSON argument and prints one output as JSON on its
 * last stdout line.
 */
import type { KeyType } from './keys.js';

/**
 * Implementations of a shared lookup table compared across workers:
 * - `flatshare`: one SharedFlatMap attached in every worker.
 * - `map-copy`: a private `Map` copy of all entries in every worker.
 * - `broker-1` / `broker-64`: the main thread owns a `Map`; a worker posts one key
 *   (or a batch of 64 keys) per message and blocks until the reply
 *   (`receiveMessageOnPort` polling, then `Atomics.wait` on a per-worker word the main thread bumps).
 * - `lmdb` / `lmdb-cache`: lmdb-js opened in every worker on one database file,
 *   with its default options (no cache) and with `cache: true`.
 */
export const MT_IMPLS = ['flatshare', 'map-copy', 'broker-1', 'broker-64', 'lmdb', 'lmdb-cache'] as const;
export type MtImpl = (typeof MT_IMPLS)[number];

/**
 * Operation mixes, per reader worker:
 * - `r100`: gets only; `r90` / `r50`: 90 % / 50 % gets, the rest overwrites of present keys;
 * - `rw`: the readers only get while one more worker overwrites present keys
 *   nonstop (its writes are not counted in the throughput).
 */
export const MIXES = ['r100', 'r90', 'r50', 'rw'] as const;
export type Mix = (typeof MIXES)[number];

/** Reader worker counts: 4 oversubscribes the 2-core machine on purpose. */
export const WORKER_COUNTS = [1, 2, 4] as const;

/** Which (impl, mix) pairs are measured. The baselines are read-only (see docs/benchmarks.md). */
export function mixesOf(impl: MtImpl): readonly Mix[] {
  return impl === 'flatshare' ? MIXES : ['r100'];
}

export interface ThroughputConfig {
  kind: 'mt-throughput';
  keyType: KeyType;
  size: number;
  seed: number;
  impls: MtImpl[];
  workerCounts: number[];
  /** Timed window of one cell (one impl × mix × worker count), ms. */
  cellMs: number;
  /** Untimed warm-up each worker runs right before a cell, ms. */
  warmMs: number;
  /** Interleaved rounds over all cells; the order reverses every other round. */
  rounds: number;
}

export interface MigrationConfig {
  kind: 'mt-migration';
  keyType: KeyType;
  size: number;
  seed: number;
  /** Reader time before the writer starts, and after the migration has finished, ms. */
  steadyMs: number;
}

export interface VisibilityConfig {
  kind: 'mt-visibility';
  keyType: KeyType;
  seed: number;
  /** Hand-offs measured per method. */
  iterations: number;
}

export interface MemoryConfig {
  kind: 'mt-memory';
  keyType: KeyType;
  sizes: number[];
  seed: number;
}

export type MtConfig = ThroughputConfig | MigrationConfig | VisibilityConfig | MemoryConfig;

/** One cell measured in one round. */
export interface CellRound {
  /** Operations (gets + sets) each reader worker completed in its timed window. */
  ops: number[];
  /** Each reader worker's own timed window, ms. */
  ms: number[];
  /** Overwrites the extra writer worker did (mix `rw`), else 0. */
  writerOps: number;
}

export interface CellResult {
  impl: MtImpl;
  mix: Mix;
  workers: number;
  rounds: CellRound[];
  /** Median over rounds of Σ_workers ops / ms, in operations per microsecond (= Mops/s). */
  aggregateMops: number;
  /** Median over rounds of the workers' mean ms / ops, in ns per operation as one worker sees it. */
  nsPerOp: number;
}

export interface ThroughputOutput {
  kind: 'mt-throughput';
  keyType: KeyType;
  size: number;
  seed: number;
  /** Set when flatshare does not support this key type yet: nothing was measured. */
  unsupported: string | undefined;
  cells: CellResult[];
  wallSeconds: number;
}

/** Latency percentiles, microseconds. */
export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export interface MigrationOutput {
  kind: 'mt-migration';
  keyType: KeyType;
  size: number;
  unsupported: string | undefined;
  /** Reader get latency before the writer started. */
  steady: Percentiles | undefined;
  /** While the writer inserts new keys, far from the resize. */
  inserting: Percentiles | undefined;
  /** Reader get latency from the writer's last inserts before the resize until the new table is published. */
  migrating: Percentiles | undefined;
  /** After the migration. */
  after: Percentiles | undefined;
  /** Duration of the writer's set() call that ran the migration, ms. */
  migrationMs: number;
  /** Table capacity (slots) before and after. */
  capacityBefore: number;
  capacityAfter: number;
  /** New keys the writer inserted. */
  inserted: number;
  wallSeconds: number;
}

export interface VisibilityRow {
  method: 'flatshare-spin' | 'postMessage-event' | 'postMessage-poll';
  latency: Percentiles;
}

export interface VisibilityOutput {
  kind: 'mt-visibility';
  keyType: KeyType;
  unsupported: string | undefined;
  rows: VisibilityRow[];
  wallSeconds: number;
}

export interface MemoryRow {
  size: number;
  /** flatshare: buffer.byteLength / entries, one copy for all threads. Default capacity, grown by inserts. */
  sharedBytesPerEntry: number;
  /** flatshare created with `capacity: size`. */
  presizedSharedBytesPerEntry: number;
  /** flatshare: JS heap the attached map costs a thread, per entry (heapUsed delta after gc). */
  flatshareHeapBytesPerEntry: number;
  /** A `Map` with the same entries: heapUsed delta after gc, per entry, per worker that holds a copy. */
  mapHeapBytesPerEntry: number;
}

export interface MemoryOutput {
  kind: 'mt-memory';
  keyType: KeyType;
  unsupported: string | undefined;
  rows: MemoryRow[];
}

export type MtOutput = ThroughputOutput | MigrationOutput | VisibilityOutput | MemoryOutput;
