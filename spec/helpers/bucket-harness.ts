/**
 * A standalone int32 -> int32 bucket table driven by the layout-6 write
 * protocol (lib/bucket-write.ts) and read by the bucket probe
 * (lib/wasm/read-bucket.wat), in a shared memory of its own: the unit under
 * test of spec/unit/bucket-write*.test.ts before SharedFlatMap uses buckets.
 * Generation 0, STABLE, no resize: a spent insert budget is counted and the
 * write reports it instead of migrating.
 */
import { B_META, BUCKET_INTS, LANE_FULL, OVERFLOW, bucketGeometry, homeBucket, laneState, laneWordOffset, occupiedLanes, type BucketGeometry } from '../../lib/bucket.js';
import {
  LANE_ABSENT,
  LANE_LOCKED,
  MATCH,
  NO_MATCH,
  abortLane,
  deleteLane,
  findLane,
  putLane,
  type BucketTable,
  type BucketWriteHost,
  type LaneLock,
} from '../../lib/bucket-write.js';
import { backoff } from '../../lib/backoff.js';
import { FIXED_INTS, T_REMAINING, T_SIZE, TABLE_HEADER_INTS, insertBudget } from '../../lib/layout.js';
import { WASM_PAGE_BYTES, createSharedMemory } from '../../lib/memory.js';
import { ORDERED_PLAIN_LOADS } from '../../lib/seqlock.js';
import { recordTag, writerRecordAt } from '../../lib/writers.js';
import type { SharedWasmMemory } from '../../lib/wasm/api.js';
import { instantiateBucketReadPath, type WasmBucketReadPath } from '../../lib/wasm/bucket-read-path.js';
import { READ_MISS, READ_RETRY } from '../../lib/wasm/read-path.js';

/** Where the table region starts: past the header and the writer records, line-aligned. */
export const TABLE_BASE = FIXED_INTS;
/** How long a write waits for a bucket lock before it throws. */
const WAIT_LIMIT_MS = 5000;

export interface HarnessGeometry {
  memory: SharedWasmMemory;
  buckets: number;
  /** Word index of the table region (SIZE, REMAINING, then the buckets). */
  base: number;
}

/** Words of a table region of `buckets` buckets (no chunk states: the harness never migrates). */
export function harnessRegionInts(buckets: number): number {
  return TABLE_HEADER_INTS + buckets * BUCKET_INTS;
}

/**
 * Empty tables of these bucket counts, one after the other in one fresh memory
 * (insert budget: 80 % of the lanes each).
 */
export function createBucketTables(...bucketCounts: number[]): HarnessGeometry[] {
  const g = bucketGeometry('int32', 'int32');
  const ints = bucketCounts.reduce((sum, b) => sum + harnessRegionInts(b), TABLE_BASE);
  const bytes = Math.ceil((ints * 4) / WASM_PAGE_BYTES) * WASM_PAGE_BYTES;
  const memory = createSharedMemory(bytes, bytes).memory;
  const words = new Int32Array(memory.buffer);
  let base = TABLE_BASE;
  return bucketCounts.map((buckets) => {
    Atomics.store(words, base + T_SIZE, 0);
    Atomics.store(words, base + T_REMAINING, insertBudget(buckets * g.lanes));
    const geometry = { memory, buckets, base };
    base += harnessRegionInts(buckets);
    return geometry;
  });
}

/** A fresh memory holding one empty table of `buckets` buckets. */
export function createBucketTable(buckets: number): HarnessGeometry {
  return createBucketTables(buckets)[0] as HarnessGeometry;
}

/** One thread's handle on the table: writer record `n`. */
export class BucketHarness implements BucketWriteHost {
  readonly words: Int32Array;
  readonly g: BucketGeometry = bucketGeometry('int32', 'int32');
  readonly rec: number;
  readonly tag: number;
  readonly table: BucketTable;
  readonly read: WasmBucketReadPath;
  /** Writes that found the insert budget spent. */
  budgetSpent = 0;
  /** Bucket-lock waits (pause calls). */
  waits = 0;
  private readonly lock: LaneLock = { at: 0, lane: 0, seq: 0, state: 0 };
  private key = 0;
  private readonly one = [0];
  private readonly match = (words: Int32Array, at: number, lane: number): number =>
    words[at + laneWordOffset(this.g, 0, lane)] === this.key ? MATCH : NO_MATCH;
  private waitedSince = 0;

  constructor(readonly geometry: HarnessGeometry, n: number, readonly hash: (k: number) => number) {
    this.words = new Int32Array(geometry.memory.buffer);
    this.rec = writerRecordAt(n);
    this.tag = recordTag(this.rec);
    this.table = { base: geometry.base, first: geometry.base + TABLE_HEADER_INTS, buckets: geometry.buckets };
    this.read = instantiateBucketReadPath(geometry.memory);
  }

  pause(attempt: number, what: string): void {
    this.waits++;
    if (attempt === 0) this.waitedSince = Date.now();
    else if (Date.now() - this.waitedSince > WAIT_LIMIT_MS) throw new Error(`waited ${WAIT_LIMIT_MS} ms for ${what}`);
    backoff(attempt);
  }

  budgetExhausted(): void {
    this.budgetSpent++;
  }

  /** Insert or overwrite; 'full' when the budget is spent (nothing changed). */
  set(k: number, v: number): 'inserted' | 'overwrote' | 'full' {
    this.key = k;
    for (;;) {
      const r = findLane(this, this.table, 0, this.hash(k), this.match, true, this.lock);
      if (r === LANE_LOCKED) {
        const was = this.lock.state;
        this.one[0] = v;
        this.one.length = 1;
        putLane(this, this.table, this.lock, [k], this.one, !ORDERED_PLAIN_LOADS);
        return was === LANE_FULL ? 'overwrote' : 'inserted';
      }
      if (this.budgetSpent > 0 && Atomics.load(this.words, this.table.base + T_REMAINING) <= 0) return 'full';
    }
  }

  /** Delete; false when absent. */
  delete(k: number): boolean {
    this.key = k;
    for (;;) {
      const r = findLane(this, this.table, 0, this.hash(k), this.match, false, this.lock);
      if (r === LANE_ABSENT) return false;
      if (r !== LANE_LOCKED) continue;
      if (this.lock.state !== LANE_FULL) {
        abortLane(this, this.table, this.lock);
        return false;
      }
      deleteLane(this, this.table, this.lock);
      return true;
    }
  }

  /** The value, or undefined; the wasm probe, retried while a writer holds the bucket. */
  get(k: number): number | undefined {
    for (let attempt = 0; ; attempt++) {
      const r = this.read.getI32(k, this.hash(k), this.table.first, this.table.buckets, 0);
      if (r === READ_MISS) return undefined;
      if (r !== READ_RETRY) return r;
      backoff(attempt);
    }
  }

  size(): number {
    return Atomics.load(this.words, this.table.base + T_SIZE);
  }

  /**
   * Check the table's invariants (quiescent: no writer active). Returns the
   * problems found, and the FULL entries it holds.
   */
  audit(): { problems: string[]; entries: Map<number, number> } {
    const problems: string[] = [];
    const entries = new Map<number, number>();
    const where = new Map<number, number>();
    const { buckets, first } = this.table;
    for (let b = 0; b < buckets; b++) {
      const at = first + b * BUCKET_INTS;
      const seq = Atomics.load(this.words, at);
      if (seq & 1) problems.push(`bucket ${b} is locked`);
      const meta = Atomics.load(this.words, at + B_META);
      const occupied = occupiedLanes(meta, this.g.lanes);
      for (let lane = 0; lane < this.g.lanes; lane++) {
        if (((occupied >>> lane) & 1) === 0) continue;
        const k = this.words[at + laneWordOffset(this.g, 0, lane)] as number;
        if (where.has(k)) problems.push(`key ${k} in buckets ${where.get(k)} and ${b}`);
        where.set(k, b);
        if (laneState(meta, lane) === LANE_FULL) entries.set(k, this.words[at + laneWordOffset(this.g, 1, lane)] as number);
        // Every bucket from the key's home up to (not including) its own has OVERFLOW.
        for (let h = homeBucket(this.hash(k), buckets); h !== b; h = h + 1 === buckets ? 0 : h + 1) {
          if ((Atomics.load(this.words, first + h * BUCKET_INTS + B_META) & OVERFLOW) === 0) {
            problems.push(`key ${k} in bucket ${b}, but bucket ${h} on its chain has no OVERFLOW`);
            break;
          }
        }
      }
    }
    if (this.size() !== entries.size) problems.push(`SIZE ${this.size()}, FULL lanes ${entries.size}`);
    return { problems, entries };
  }
}
