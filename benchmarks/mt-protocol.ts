/**
 * What mt-case.ts (main thread of a multi-worker job) and mt-worker.ts share:
 * the control words, the messages, and the latency histogram.
 *
 * Control words (Int32Array over `WorkerData.control`):
 *   CTL_GO     generation of the cell the workers may start timing (main: store + notify)
 *   CTL_STOP   generation of the cell the workers must stop (checked between chunks of ops)
 *   CTL_PHASE  migration job: PHASE_* the writer is in (the reader files latencies under it)
 *   CTL_ACK    visibility job: last hand-off the reader has seen
 */
import type { Key, KeyType } from './keys.js';
import type { Mix, MtImpl, Percentiles } from './mt-types.js';

export const CTL_GO = 0;
export const CTL_STOP = 1;
export const CTL_PHASE = 2;
export const CTL_ACK = 3;
export const CTL_INTS = 4;

/** Values stored are the key's index; overwrites toggle this bit, so `value & VALUE_MASK` is always the index. */
export const VALUE_FLIP = 0x4000_0000;
export const VALUE_MASK = 0x3fff_ffff;

/** Keys per message of the batched broker. */
export const BROKER_BATCH = 64;

/** Migration phases. */
export const PHASE_STEADY = 0;
/** The writer inserts new keys, still far from the resize. */
export const PHASE_INSERTING = 1;
/** The writer's last inserts before the resize, and the migration itself. */
export const PHASE_MIGRATING = 2;
export const PHASE_AFTER = 3;
export const PHASE_COUNT = 4;

/** Latency histogram: 10 ns buckets up to 200 µs, exact (bucketed) values above in `overflow`, µs. */
export const HIST_BUCKET_NS = 10;
export const HIST_BUCKETS = 20_000;
export interface Histogram {
  buckets: Uint32Array;
  overflow: number[];
}

export function percentilesOf(h: Histogram): Percentiles | undefined {
  let count = h.overflow.length;
  for (let i = 0; i < h.buckets.length; i++) count += h.buckets[i] as number;
  if (count === 0) return undefined;
  const over = h.overflow.slice().sort((a, b) => a - b);
  const at = (q: number): number => {
    const rank = Math.min(count - 1, Math.floor(q * count));
    let seen = 0;
    for (let i = 0; i < h.buckets.length; i++) {
      seen += h.buckets[i] as number;
      if (seen > rank) return ((i + 0.5) * HIST_BUCKET_NS) / 1000;
    }
    return over[rank - seen] as number;
  };
  let max = over.length > 0 ? (over[over.length - 1] as number) : 0;
  if (over.length === 0) {
    for (let i = h.buckets.length - 1; i >= 0; i--) {
      if ((h.buckets[i] as number) > 0) {
        max = ((i + 1) * HIST_BUCKET_NS) / 1000;
        break;
      }
    }
  }
  return { count, p50: at(0.5), p99: at(0.99), p999: at(0.999), max };
}

/** Percentiles of raw samples in nanoseconds, reported in µs. */
export function percentilesOfNs(samplesNs: number[]): Percentiles {
  const s = samplesNs.slice().sort((a, b) => a - b);
  const at = (q: number): number => (s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN) / 1000;
  return { count: s.length, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: (s[s.length - 1] ?? Number.NaN) / 1000 };
}

export type VisMethod = 'flatshare-spin' | 'postMessage-event' | 'postMessage-poll';

export interface WorkerData {
  id: number;
  keyType: KeyType;
  /** SharedArrayBuffer of the case's distinct int32 keys (the value of keys[i] is i). */
  keys: SharedArrayBuffer;
  /** Keys not in the map, for the migration writer (may be empty). */
  extraKeys: SharedArrayBuffer;
  /** The flatshare map's handle (structured clone of SharedFlatMapHandle). */
  handle: unknown;
  control: SharedArrayBuffer;
  /** Length of this worker's lookup stream (a power of two, a multiple of BROKER_BATCH). */
  lookups: number;
  seed: number;
  lmdbPath: string | null;
  brokerPort: import('node:worker_threads').MessagePort | null;
  /** One Int32 per worker: the main thread bumps word `id` after posting a broker reply. */
  brokerSig: SharedArrayBuffer;
  visEventPort: import('node:worker_threads').MessagePort | null;
  visPollPort: import('node:worker_threads').MessagePort | null;
}

export type WorkerCommand =
  | { cmd: 'run'; gen: number; impl: MtImpl; mix: Mix; role: 'reader' | 'writer'; warmMs: number }
  | { cmd: 'migrate-read' }
  | { cmd: 'migrate-write'; approach: number }
  | { cmd: 'vis-write'; method: VisMethod; iterations: number; stamp: SharedArrayBuffer }
  | { cmd: 'vis-read'; method: VisMethod; iterations: number; stamp: SharedArrayBuffer }
  | { cmd: 'exit' };

export interface MigrationWriterResult {
  migrationMs: number;
  capacityBefore: number;
  capacityAfter: number;
  inserted: number;
}

export type WorkerReply =
  | { type: 'up' }
  | { type: 'ready'; gen: number }
  | { type: 'done'; gen: number; ops: number; ms: number }
  | { type: 'migration-read'; phases: Array<Percentiles | undefined> }
  | { type: 'migration-write'; result: MigrationWriterResult }
  | { type: 'vis-listening' }
  | { type: 'vis-done'; latenciesNs: number[] }
  | { type: 'exited'; sink: number }
  | { type: 'error'; smoke: boolean; message: string };

/** A broker request: one key, or a batch of keys. */
export type BrokerRequest = Key | Int32Array | string[];
