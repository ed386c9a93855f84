/**
 * A standalone bucket table of int32 keys (int32 or float64 values) driven by
 * the layout-6 write protocol (lib/bucket-write.ts; with `wasm`, by
 * lib/wasm/write-bucket.wat first) and read by the bucket probe
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
import { READ_MISS, READ_RETRY, STATUS_HIT, STATUS_MISS } from '../../lib/wasm/bucket-read-path.js';
import {
  ADD_SLOW_RESULT,
  DEL_ABSENT,
  DEL_DELETED,
  PUT_INSERTED,
  PUT_OVERWROTE,
  instantiateBucketWritePath,
  type WasmBucketWritePath,
} from '../../lib/wasm/bucket-write-path.js';

const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);

/** Where the table region starts: past the header and the writer records, line-aligned. */
export const TABLE_BASE = FIXED_INTS;
/** How long a write waits for a bucket lock before it throws. */
const WAIT_LIMIT_MS = 5000;

export interface HarnessGeometry {
  memory: SharedWasmMemory;
  buckets: number;
  /** The value kind: int32 (7 lanes a bucket) or float64 (4). */
  values: 'int32' | 'float64';
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
  return createValueTables('int32', ...bucketCounts);
}

/** createBucketTables for int32 keys with `values` values. */
export function createValueTables(values: 'int32' | 'float64', ...bucketCounts: number[]): HarnessGeometry[] {
  const g = bucketGeometry('int32', values);
  const ints = bucketCounts.reduce((sum, b) => sum + harnessRegionInts(b), TABLE_BASE);
  const bytes = Math.ceil((ints * 4) / WASM_PAGE_BYTES) * WASM_PAGE_BYTES;
  const memory = createSharedMemory(bytes, bytes).memory;
  const words = new Int32Array(memory.buffer);
  let base = TABLE_BASE;
  return bucketCounts.map((buckets) => {
    Atomics.store(words, base + T_SIZE, 0);
    Atomics.store(words, base + T_REMAINING, insertBudget(buckets, g.lanes));
    const geometry = { memory, buckets, base, values };
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
  readonly g: BucketGeometry;
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
  private readonly match = (words: Int32Array, at: number, lane: number): number =>
    words[at + laneWordOffset(this.g, 0, lane)] === this.key ? MATCH : NO_MATCH;
  private waitedSince = 0;

  /** With `wasm`, set / delete / add run write-bucket.wat first and the JS path only on SLOW. */
  readonly write: WasmBucketWritePath | undefined;
  /** SLOW answers of the wasm write path. */
  slow = 0;

  constructor(readonly geometry: HarnessGeometry, n: number, readonly hash: (k: number) => number, wasm = false) {
    this.g = bucketGeometry('int32', geometry.values);
    this.words = new Int32Array(geometry.memory.buffer);
    this.rec = writerRecordAt(n);
    this.tag = recordTag(this.rec);
    this.table = { base: geometry.base, first: geometry.base + TABLE_HEADER_INTS, buckets: geometry.buckets };
    this.read = instantiateBucketReadPath(geometry.memory);
    if (wasm) {
      this.write = instantiateBucketWritePath(geometry.memory);
      this.write.configure(geometry.values === 'float64' ? 1 : 0, ORDERED_PLAIN_LOADS ? 0 : 1);
      this.write.setWriter(this.rec, this.tag);
    }
  }

  /** The value words of `v` for this table's value kind. */
  private valueWords(v: number): number[] {
    if (this.geometry.values === 'int32') return [v];
    f64[0] = v;
    return [f64Words[0] as number, f64Words[1] as number];
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
    if (this.write !== undefined) {
      const { first, buckets, base } = this.table;
      const put = this.geometry.values === 'int32' ? this.write.putI32 : this.write.putF64;
      const r = put(k, this.hash(k), v, first, buckets, 0, base);
      if (r === PUT_INSERTED) return 'inserted';
      if (r === PUT_OVERWROTE) return 'overwrote';
      this.slow++;
    }
    for (;;) {
      const r = findLane(this, this.table, 0, this.hash(k), this.match, true, this.lock);
      if (r === LANE_LOCKED) {
        const was = this.lock.state;
        putLane(this, this.table, this.lock, [k], this.valueWords(v), !ORDERED_PLAIN_LOADS);
        return was === LANE_FULL ? 'overwrote' : 'inserted';
      }
      if (this.budgetSpent > 0 && Atomics.load(this.words, this.table.base + T_REMAINING) <= 0) return 'full';
    }
  }

  /** Delete; false when absent. */
  delete(k: number): boolean {
    this.key = k;
    if (this.write !== undefined) {
      const r = this.write.deleteI32(k, this.hash(k), this.table.first, this.table.buckets, 0, this.table.base);
      if (r === DEL_DELETED) return true;
      if (r === DEL_ABSENT) return false;
      this.slow++;
    }
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

  /** add (int32 values): the new value; 'overflow' when it would leave int32 (nothing changed). */
  add(k: number, delta: number): number | 'overflow' {
    this.key = k;
    if (this.write !== undefined) {
      const { first, buckets, base } = this.table;
      const r = this.write.addI32(k, this.hash(k), delta, first, buckets, 0, base);
      if (r !== ADD_SLOW_RESULT || this.write.handedBack() === 0) return r;
      this.slow++;
    }
    for (;;) {
      const r = findLane(this, this.table, 0, this.hash(k), this.match, true, this.lock);
      if (r !== LANE_LOCKED) continue;
      const cur = this.lock.state === LANE_FULL ? (this.words[this.lock.at + laneWordOffset(this.g, 1, this.lock.lane)] as number) : 0;
      const next = cur + delta;
      if (next !== (next | 0)) {
        abortLane(this, this.table, this.lock);
        return 'overflow';
      }
      putLane(this, this.table, this.lock, [k], [next], !ORDERED_PLAIN_LOADS);
      return next;
    }
  }

  /** The value, or undefined; the wasm probe, retried while a writer holds the bucket. */
  get(k: number): number | undefined {
    const { first, buckets } = this.table;
    for (let attempt = 0; ; attempt++) {
      if (this.geometry.values === 'float64') {
        const status = this.read.getF64(k, this.hash(k), first, buckets, 0);
        if (status === STATUS_MISS) return undefined;
        if (status === STATUS_HIT) return this.read.lastF64();
      } else {
        const r = this.read.getI32(k, this.hash(k), first, buckets, 0);
        if (r === READ_MISS) return undefined;
        if (r !== READ_RETRY) return r;
      }
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
        if (laneState(meta, lane) === LANE_FULL) {
          const low = this.words[at + laneWordOffset(this.g, 1, lane)] as number;
          if (this.geometry.values === 'int32') entries.set(k, low);
          else {
            f64Words[0] = low;
            f64Words[1] = this.words[at + laneWordOffset(this.g, 2, lane)] as number;
            entries.set(k, f64[0] as number);
          }
        }
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
