/**
 * The JS side of the lane-state bucket prototype (benchmarks/prototypes/
 * bucket-lanes.wat, NOT the library), shared by benchmarks/bucket-churn.ts
 * and benchmarks/bucket-contention.ts: a table of 64-byte buckets in a shared
 * wasm memory, wrapped the way SharedFlatMap wraps its wasm calls (int32
 * checks, fmix32(key ^ seed), one wasm call, the status test), plus a census
 * of lane states for the reports.
 *
 * Memory map (bytes): epoch word at 128 (zero: generation 0), writer record i
 * at RECORD_BASE_BYTES + RECORD_BYTES × i (one per thread), the table from
 * PROTO_TABLE_BASE_BYTES: SIZE at +0, REMAINING at +64, buckets from +128.
 * Bucket words: SEQ, META, 7 keys, 7 values (docs/design.md §10's order).
 */
import { fileURLToPath } from 'node:url';
import { fmix32 } from '../lib/hashers/murmur3.js';
import type { SharedWasmMemory } from '../lib/wasm/api.js';
import { READ_MISS } from '../lib/wasm/read-path.js';
import { PROTO_TABLE_BASE_BYTES, instantiateWat, prototypeMemory } from './prototype-harness.js';

/** Bucket geometry and table header; bucket-lanes.wat hard-codes the same numbers. */
export const BUCKET_BYTES = 64;
const BUCKET_INTS = BUCKET_BYTES / 4;
export const BUCKET_LANES = 7;
const TABLE_HEADER_BYTES = 128;
const SIZE_BYTES = 0;
const REMAINING_BYTES = 64;
const META_AT = 1;
const KEYS_AT = 2;
const VALUES_AT = KEYS_AT + BUCKET_LANES;
const LANE_STATE_BITS = 2;
const LANE_STATE_MASK = 3;
const LANE_FULL = 1;
const LANE_TOMBSTONE = 2;
const OVERFLOW = 1 << 15;
/** Writer records: the library's 64-byte record, one per thread, from byte 256. */
export const RECORD_BASE_BYTES = 256;
export const RECORD_BYTES = 64;
/** Number of writer records that fit below the table (PROTO_TABLE_BASE_BYTES). */
export const MAX_RECORDS = (PROTO_TABLE_BASE_BYTES - RECORD_BASE_BYTES) / RECORD_BYTES;
export const HASH_SEED = 0x5eed;
/** putL / deleteL status: nothing changed, try again. */
export const STATUS_SLOW = 2;
const PUT_INSERTED = 0;
const DEL_DELETED = 0;
/** getL's RETRY answer (2^33), above READ_MISS (2^32). */
export const READ_RETRY = 2 * READ_MISS;

const WAT = fileURLToPath(new URL('../../benchmarks/prototypes/bucket-lanes.wat', import.meta.url));

type GetL = (k: number, hash: number, base: number, buckets: number, gen: number) => number;
type PutL = (k: number, hash: number, v: number, table: number, buckets: number, gen: number, rec: number) => number;
type DeleteL = (k: number, hash: number, table: number, buckets: number, gen: number, rec: number) => number;

/** Lane states of the whole table. */
export interface LaneCensus {
  empty: number;
  full: number;
  tombstone: number;
  /** Buckets with OVERFLOW set. */
  overflowBuckets: number;
}

/** Bytes of shared memory a table of `buckets` buckets needs (records and header included). */
export function laneTableBytes(buckets: number): number {
  return PROTO_TABLE_BASE_BYTES + TABLE_HEADER_BYTES + buckets * BUCKET_BYTES;
}

export class LaneTable {
  readonly words: Int32Array;
  private getL: GetL = () => Number.NaN;
  private putL: PutL = () => STATUS_SLOW;
  private deleteL: DeleteL = () => STATUS_SLOW;
  private readonly gen = 0;
  private readonly rec: number;
  private readonly base = PROTO_TABLE_BASE_BYTES + TABLE_HEADER_BYTES;

  /** A table of `buckets` buckets in `memory` (a new zeroed one if omitted), written through record `record`. */
  constructor(
    readonly buckets: number,
    readonly memory: SharedWasmMemory = prototypeMemory(laneTableBytes(buckets)),
    record = 0,
  ) {
    if (record < 0 || record >= MAX_RECORDS) throw new RangeError(`writer record ${record} out of range`);
    this.words = new Int32Array(this.memory.buffer);
    this.rec = RECORD_BASE_BYTES + RECORD_BYTES * record;
  }

  async init(): Promise<this> {
    const e = (await instantiateWat(WAT, this.memory)) as { getL: GetL; putL: PutL; deleteL: DeleteL };
    this.getL = e.getL;
    this.putL = e.putL;
    this.deleteL = e.deleteL;
    return this;
  }

  /** An empty table, its pages touched, with `budget` inserts into EMPTY lanes allowed. */
  clear(budget: number): void {
    const first = PROTO_TABLE_BASE_BYTES / 4;
    this.words.fill(0, first, laneTableBytes(this.buckets) / 4);
    this.words[(PROTO_TABLE_BASE_BYTES + REMAINING_BYTES) / 4] = budget;
  }

  get size(): number {
    return Atomics.load(this.words, (PROTO_TABLE_BASE_BYTES + SIZE_BYTES) / 4);
  }

  get remaining(): number {
    return Atomics.load(this.words, (PROTO_TABLE_BASE_BYTES + REMAINING_BYTES) / 4);
  }

  get lanes(): number {
    return this.buckets * BUCKET_LANES;
  }

  /** getL's raw answer: the value, READ_MISS or READ_RETRY. */
  getRaw(key: number): number {
    return this.getL(key, fmix32(key ^ HASH_SEED), this.base, this.buckets, this.gen);
  }

  /** putL's status: 0 inserted, 1 overwritten or revived, STATUS_SLOW. */
  putRaw(key: number, value: number): number {
    return this.putL(key, fmix32(key ^ HASH_SEED), value, PROTO_TABLE_BASE_BYTES, this.buckets, this.gen, this.rec);
  }

  /** deleteL's status: 0 deleted, 1 absent, STATUS_SLOW. */
  deleteRaw(key: number): number {
    return this.deleteL(key, fmix32(key ^ HASH_SEED), PROTO_TABLE_BASE_BYTES, this.buckets, this.gen, this.rec);
  }

  /** SharedFlatMap.get's JS side around getL; RETRY throws (only for tables one thread writes). */
  get(key: number): number | undefined {
    if (typeof key !== 'number' || (key | 0) !== key) throw new TypeError('not an int32 key');
    const r = this.getL(key, fmix32(key ^ HASH_SEED), this.base, this.buckets, this.gen);
    if (r < READ_MISS) return r;
    if (r === READ_MISS) return undefined;
    throw new Error('RETRY in a table only this thread writes');
  }

  /** SharedFlatMap.set's JS side around putL; SLOW throws (only for tables one thread writes). */
  set(key: number, value: number): this {
    if (typeof key !== 'number' || (key | 0) !== key) throw new TypeError('not an int32 key');
    if (typeof value !== 'number' || (value | 0) !== value) throw new TypeError('not an int32 value');
    const r = this.putL(key, fmix32(key ^ HASH_SEED), value, PROTO_TABLE_BASE_BYTES, this.buckets, this.gen, this.rec);
    if (r === STATUS_SLOW) throw new Error('slow path in a table only this thread writes (insert budget used up?)');
    return this;
  }

  /** SharedFlatMap.delete's JS side around deleteL; SLOW throws (only for tables one thread writes). */
  delete(key: number): boolean {
    if (typeof key !== 'number' || (key | 0) !== key) throw new TypeError('not an int32 key');
    const r = this.deleteL(key, fmix32(key ^ HASH_SEED), PROTO_TABLE_BASE_BYTES, this.buckets, this.gen, this.rec);
    if (r === STATUS_SLOW) throw new Error('slow path in a table only this thread writes');
    return r === DEL_DELETED;
  }

  /** True when `status` (from putRaw) was an insert into an EMPTY lane. */
  static inserted(status: number): boolean {
    return status === PUT_INSERTED;
  }

  /** Count lane states and OVERFLOW bits (plain reads: call it while nobody writes). */
  census(): LaneCensus {
    const c: LaneCensus = { empty: 0, full: 0, tombstone: 0, overflowBuckets: 0 };
    for (let b = 0; b < this.buckets; b++) {
      const meta = this.words[this.base / 4 + b * BUCKET_INTS + META_AT] as number;
      if ((meta & OVERFLOW) !== 0) c.overflowBuckets++;
      for (let lane = 0; lane < BUCKET_LANES; lane++) {
        const state = (meta >>> (LANE_STATE_BITS * lane)) & LANE_STATE_MASK;
        if (state === LANE_FULL) c.full++;
        else if (state === LANE_TOMBSTONE) c.tombstone++;
        else c.empty++;
      }
    }
    return c;
  }

  /** Every FULL lane's key and value (plain reads: call it while nobody writes). */
  entries(): Map<number, number> {
    const out = new Map<number, number>();
    for (let b = 0; b < this.buckets; b++) {
      const at = this.base / 4 + b * BUCKET_INTS;
      const meta = this.words[at + META_AT] as number;
      for (let lane = 0; lane < BUCKET_LANES; lane++) {
        if (((meta >>> (LANE_STATE_BITS * lane)) & LANE_STATE_MASK) !== LANE_FULL) continue;
        const k = this.words[at + KEYS_AT + lane] as number;
        if (out.has(k)) throw new Error(`key ${k} in two FULL lanes`);
        out.set(k, this.words[at + VALUES_AT + lane] as number);
      }
    }
    return out;
  }
}
