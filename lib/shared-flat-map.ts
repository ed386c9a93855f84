/**
 * SharedFlatMap: a hash map in a SharedArrayBuffer that every thread of the
 * process can read and write directly.
 *
 * Per-thread state: each thread's instance caches an explicit-length Int32Array
 * view of the buffer and the descriptor (base, first bucket, buckets) of the
 * table generation it last saw. Readers validate that generation after every lookup
 * and refresh the cache when it moved (epoch.ts); writers announce it.
 *
 * Operations and their protocols:
 * - get / has: optimistic seqlock read of the key's bucket chain, no shared
 *   write, no lock (bucket.ts; wasm/read-bucket.wat, bucket-read.ts).
 * - set / delete / getOrSet / add / compareAndSet: lock the bucket of the
 *   key's lane (or of the first EMPTY lane on its chain) by CAS, re-check the
 *   epoch, write the lane with an intent, release with one store
 *   (bucket-write.ts; wasm/write-bucket.wat). Inserts into EMPTY lanes first
 *   take one unit of the table's insert budget; when none is left, the
 *   writer starts a migration (migration.ts) and retries in the new table.
 * - clear: a migration to an empty table, atomic for readers.
 * - iteration: weakly consistent, cluster by cluster in hash order (bucket-iterator.ts).
 * - size: the current table's live-entry counter; racy by nature.
 * - recover / automatic recovery: a thread that died inside an operation is
 *   repaired from its writer record (recovery.ts); every wait is bounded.
 */
import {
  DEFAULT_CAPACITY,
  BLOCK_TAG_BITS,
  TAG_LATIN1,
  TAG_UTF16,
  DEFAULT_MAX_BYTES,
  FIXED_INTS,
  H_ALLOC_TOP,
  H_EPOCH,
  H_HASHER_ID,
  H_HASHER_ID_BYTES,
  H_HASHER_SEED,
  H_INITIAL_BUCKETS,
  H_KEY_KIND,
  H_LAYOUT_VERSION,
  H_MAGIC,
  H_MAP_ID,
  H_MAX_INTS,
  H_LANE_INTS,
  H_VALUE_KIND,
  HASHER_ID_MAX_BYTES,
  INT_BYTES,
  KeyKindCode,
  LAYOUT_VERSION,
  MAGIC,
  MAP_ID_INTS,
  MAX_BYTES_LIMIT,
  MAX_BUCKETS,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  NULL_BLOCK,
  C_KEY_REF,
  T_REMAINING,
  T_SIZE,
  ValueKindCode,
  W_ACTIVE_GEN,
  bucketsFor,
  insertBudget,
  isRefValue,
  laneInts,
  tableRegionInts,
  valueColumn,
  type KeyKind,
  type ValueKind,
} from './layout.js';
import { LOCKED, ORDERED_PLAIN_LOADS, loadWord, released, storeWord } from './seqlock.js';
import { PHASE_COPYING, PHASE_STABLE, genOf, makeEpoch, phaseOf } from './epoch.js';
import {
  ErrorCode,
  FlatshareRangeError,
  FlatshareTypeError,
  FlatshareUnsupportedError,
  describe,
} from './errors.js';
import { allocateBlock, freeBlock, type ArenaHost } from './arena.js';
import {
  TORN,
  makeViews,
  readBlockBytes,
  readBlockString,
  writeBlockBytes,
  writeBlockPacked,
  writeBlockString,
  type Views,
} from './blocks.js';
import {
  checkStringKey,
  prepareBytesValue,
  prepareJsonValue,
  prepareStringKey,
  prepareStringKeyTagged,
  prepareStringValue,
  type Prepared,
} from './values.js';
import { checkFloat64Value, checkInt32Key, checkInt32Value, float64Words, readFloat64Split, sameValueZero } from './codecs.js';
import { hashers, rebuildHasher, validateHasher, type Hasher } from './hashers/index.js';
import { fmix32, isBuiltInMurmur3, murmur3StringPacked } from './hashers/murmur3.js';
import { LATIN1_MAX_UNIT, LITTLE_ENDIAN, PACKED_KEY_MAX_UNITS, PackedKey, packLatin1 } from './strings.js';
import { createSharedMemory, WasmSharedMemory } from './memory.js';
import { wasmApi, type SharedWasmMemory } from './wasm/api.js';
import {
  ADD_SLOW_RESULT,
  COPY_HASH_MURMUR3_INT,
  COPY_HASH_STORED,
  DEL_DELETED,
  DEL_SLOW,
  PUT_NEED_BLOCK,
  PUT_SLOW,
  PUT_STORED_BLOCK,
  instantiateBucketWritePath,
  type WasmBucketWritePath,
} from './wasm/bucket-write-path.js';
import { warmUp } from './wasm/warm-up.js';
import { takeCallSite } from './wasm/call-sites.js';
import {
  FIND_MISS,
  KEY_MAX_UNITS,
  READ_MISS,
  READ_RETRY,
  STATUS_HIT,
  STATUS_RETRY,
  instantiateBucketReadPath,
  type WasmBucketReadPath,
} from './wasm/bucket-read-path.js';
import { readTableInfo, initTableHeader, writeTableInfo, viewCovers, type TableInfo } from './table.js';
import {
  B_LANES,
  B_META,
  LANE_EMPTY,
  LANE_FULL,
  bucketAt,
  bucketGeometry,
  occupiedLanes,
  tombstoneLanes,
  type BucketGeometry,
} from './bucket.js';
import {
  BUCKET_RESTART,
  BUCKET_TAKEN,
  LANE_ABSENT,
  LANE_LOCKED,
  abortLane,
  deleteLane,
  findLane,
  putLane,
  tryLockBucket,
  type BucketWriteHost,
  type LaneLock,
} from './bucket-write.js';
import { Int32LaneMatcher, LANE_READ_HIT, LANE_READ_MISS, StringLaneMatcher, laneStillValid, readLane, type LaneHit } from './bucket-read.js';
import { claimWriterRecord, recordTag, releaseWriterRecord } from './writers.js';
import { helpCopy, helpOrWait, settledSeq, startMigration, type MigrationHost } from './migration.js';
import { SPIN_ROUNDS, backoff } from './backoff.js';
import {
  DEFAULT_WAIT_TIMEOUT_MS,
  checkStall,
  recoverThread,
  registerMap,
  instancesOf,
  type RecoveryHost,
  type RecoveryReport,
} from './recovery.js';
import { clearLock } from './intent.js';
import { iterateBucketEntries, type BucketIterationHost } from './bucket-iterator.js';

/** Key kinds a map can be created with. */
export type KeyKindOption = 'int32' | 'string';
/** Value kinds a map can be created with. */
export type ValueKindOption = 'int32' | 'float64' | 'string' | 'bytes' | 'json';

/** Options of `new SharedFlatMap(options)`. */
export interface SharedFlatMapOptions {
  /**
   * Key kind.
   * - `'int32'`: integers in [-2^31, 2^31-1], stored inline in the table (4 bytes).
   * - `'string'`: any string up to 64 KiB encoded (one byte per UTF-16 code
   *   unit when all are <= 0xFF, else two), in a shared arena block; the table
   *   holds the key's 32-bit hash and the block's index (8 bytes).
   * @defaultValue `'string'`
   */
  keys?: KeyKindOption;
  /**
   * Value kind.
   * - `'int32'` (4 bytes inline) and `'float64'` (8 bytes inline): support `add`.
   * - `'string'`: any string up to 16 MiB encoded, in an arena block.
   * - `'bytes'`: a `Uint8Array` up to 16 MiB; `get` returns a fresh copy.
   * - `'json'`: anything `JSON.stringify` turns into text that `JSON.parse`
   *   gives back (no `undefined`, functions, symbols, BigInt, non-finite
   *   numbers or cycles), up to 16 MiB of text; `get` returns a new parsed copy.
   * Arena values cost their encoded length rounded up to a size class (< 25%
   * waste) plus a 4-byte header; space freed by overwrites and deletes is reused.
   * @defaultValue `'json'`
   */
  values?: ValueKindOption;
  /**
   * Expected number of entries. Sizes the first table so that this many
   * entries fit without a resize: the fewest 64-byte buckets whose lanes hold
   * them at 80% load (7 lanes a bucket for int32 keys and values, 4 for
   * int32 -> float64 and string keys, 3 for string -> float64; at least 4
   * buckets). The tables a map grows into hold twice the live entries.
   * Costs `64 bytes x ceil(capacity / 0.8 / lanes)` of shared memory up front
   * (11.4 bytes an entry for int32 -> int32, 20 for string keys).
   * @defaultValue 64
   */
  capacity?: number;
  /**
   * Ceiling on the shared memory the map may ever use, in bytes, up to 2^32.
   * Reserved as address space, committed only as the map grows. When a resize
   * would exceed it, the insert throws `ERR_FLATSHARE_FULL` and nothing changes.
   * @defaultValue 2^30 (1 GiB)
   */
  maxBytes?: number;
  /**
   * Hash function object. Built-in synchronous hashers are rebuilt by
   * `attach`; others must be passed to `attach(handle, { hasher })`.
   * @defaultValue `hashers.default` (murmur3, seed 0)
   */
  hasher?: Hasher;
  /**
   * Longest time, in milliseconds, an operation of THIS instance waits for a
   * bucket lock or a migration held by another thread before it throws
   * `ERR_FLATSHARE_TIMEOUT` having changed nothing. Locks are held for well
   * under a microsecond; a long wait means the holder died and was not
   * recovered yet (see `recover`). Never used to take a lock away from its
   * holder. `Infinity` waits forever. Per instance, not stored in the map.
   * @defaultValue 10000
   */
  waitTimeoutMs?: number;
}

/** Options of `SharedFlatMap.attach(handle, options)`. */
export interface AttachOptions {
  /** The hasher, required when the map was created with a non-built-in or async hasher. Its id must match. */
  hasher?: Hasher;
  /** See {@link SharedFlatMapOptions.waitTimeoutMs}. @defaultValue 10000 */
  waitTimeoutMs?: number;
}

/**
 * A structured-cloneable description of a map: pass it to a Worker (e.g. in
 * `workerData`) and call `SharedFlatMap.attach(handle)` there.
 */
export interface SharedFlatMapHandle {
  readonly flatshare: typeof LAYOUT_VERSION;
  /**
   * The map's shared memory. A shared WebAssembly.Memory: structured clone
   * (postMessage, workerData) passes the same memory, never a copy. Its
   * `buffer` is a SharedArrayBuffer over the memory; in a thread other than
   * the one that last grew it, it can be shorter than the memory for a while
   * (V8 refreshes it at that thread's next stack check), so do not read the
   * map's words through it.
   */
  readonly memory: SharedWasmMemory;
  readonly keys: KeyKindOption;
  readonly values: ValueKindOption;
  readonly hasherId: string;
}

/** Result of `trySet`: `'ok'`, or `'full'` when maxBytes would be exceeded. */
export type TrySetStatus = 'ok' | 'full';

const KEY_KINDS: readonly KeyKindOption[] = ['int32', 'string'];
const VALUE_KINDS: readonly ValueKindOption[] = ['int32', 'float64', 'string', 'bytes', 'json'];
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
const RANDOM_ID_RANGE = 2 ** 31;
/** This thread's packed form of the string key being looked up (getByString; one lookup runs at a time per thread). */
const packedKey = new PackedKey();

/** Internal state exposed to white-box tests only. */
export interface SharedFlatMapInternals {
  words: Int32Array;
  /** The memory's SharedArrayBuffer as long as it is now. */
  buffer: SharedArrayBuffer;
  /** The memory as the allocator sees it (byteLength, maxByteLength, grow). */
  memory: WasmSharedMemory;
  gen: number;
  table: TableInfo;
  /** The bucket geometry (lanes, words a lane). */
  g: BucketGeometry;
  writerRecord: number;
}

/**
 * A hash map in shared memory. Create it once, pass `map.handle` to workers,
 * and `SharedFlatMap.attach(handle)` there: every thread sees the same entries.
 *
 * Thread safety: every method may be called from any thread at any time.
 * Every single-key operation is linearizable. `size` and iteration are
 * weakly consistent (see their docs).
 *
 * @typeParam K - key type (`number` for `keys: 'int32'`)
 * @typeParam V - value type (`number` for `'int32'` and `'float64'` values)
 */
export class SharedFlatMap<K = string, V = unknown> implements Iterable<[K, V]> {
  /** The structured-cloneable handle to pass to other threads. */
  readonly handle: SharedFlatMapHandle;
  /** Key kind of this map. */
  readonly keyKind: KeyKind;
  /** Value kind of this map. */
  readonly valueKind: ValueKind;
  /** The hasher all threads use for this map. */
  readonly hasher: Hasher;

  // ---- per-thread view (see class doc) ----
  private words: Int32Array;
  private readonly memory: WasmSharedMemory;
  /** The read paths over `memory` (lib/wasm/bucket-read-path.ts), one instance per map per thread. */
  private readonly wasm: WasmBucketReadPath;
  /** The fast write paths over `memory` (lib/wasm/bucket-write-path.ts): set for int32 keys, the string puts, the migration copy. */
  private readonly wput: WasmBucketWritePath;
  /** int32 keys with int32 or float64 values: `set` tries `wput` first. */
  private readonly fastPut: boolean;
  /**
   * String keys with int32 or float64 values, built-in murmur3, little-endian:
   * `set` of a key of at most KEY_MAX_UNITS one-byte units tries `wput.putStr*` first.
   */
  private readonly fastPutStr: boolean;
  /**
   * String keys (any value kind), built-in murmur3, little-endian: `delete`
   * tries `wput.deleteStr` first, and `get` of a short one-byte key the wasm
   * string reads (`wasm.findStr`, `getStrI32`, `getStrF64`).
   */
  private readonly fastDelStr: boolean;
  /**
   * int32 keys and int32 values with the built-in murmur3 hasher: `get` hashes
   * inline and makes one wasm call (measured: one flag test instead of four,
   * and the probe function held here instead of behind `wasm`, took the 100k
   * get-hit ratio from 1.11-1.15x to 1.03-1.08x Map.get; docs/design.md §4).
   */
  private readonly fastGet: boolean;
  /** `wasm.getI32`, held directly: one load less per `get`. */
  private readonly probeI32: WasmBucketReadPath['getI32'];
  /**
   * Which copy of each hot wasm call this map uses (wasm/call-sites.ts): in `get`, `set`,
   * `delete` and `add` for int32 keys (`fastPut`), in `getByString`, `putStr` and
   * `tryDeleteStr` for string keys (`fastDelStr`); 0 for the other maps.
   */
  private readonly callSite: number;
  private gen = -1;
  private table: TableInfo = { base: 0, first: 0, buckets: 0 };
  /** Copies of `table.first` and `table.buckets` for the read path (refreshTable). */
  private tableFirst = 0;
  private tableBuckets = 0;
  /** Copy of `table.base` for the write path. */
  private tableBase = 0;
  /** True when the hasher is the built-in murmur3 (any seed): the read path inlines its fmix32. */
  private readonly murmurInline: boolean;
  private readonly murmurSeed: number;
  /** Where the lanes sit in a bucket (bucket.ts): lanes, words a lane, key and value words. */
  private readonly g: BucketGeometry;
  private readonly lanes: number;
  /** Offset from a bucket's SEQ of lane 0's first value word (lane l's is valueAt + l; float64 high words a further `lanes` on). */
  private readonly valueAt: number;
  /** Offset from a bucket's SEQ of lane 0's KEY_REF (string keys). */
  private readonly keyRefAt: number;
  private readonly isFloat: boolean;
  /** String keys: a lane holds HASH and KEY_REF. */
  private readonly strKeys: boolean;
  /** string, bytes or json values: a lane holds the index of an arena block. */
  private readonly refValues: boolean;
  private readonly mapId: string;
  private writerRec = -1;
  /** Tag of `writerRec` (writers.ts `recordTag`): goes into lock words. */
  private recTag = 0;
  /** The lane the last `lock` holds (its bucket, lane, SEQ before the lock and state then). */
  private readonly held: LaneLock = { at: 0, lane: 0, seq: 0, state: LANE_EMPTY };
  /** Where the last JS read found its key (readLane). */
  private readonly hit: LaneHit = { at: 0, lane: 0, seq: 0 };
  private readonly i32Match: Int32LaneMatcher;
  private readonly strMatch: StringLaneMatcher;
  /** The key and value words of the write in progress, for putLane. */
  private readonly keyWords = new Int32Array(2);
  private readonly valueWords = new Int32Array(2);
  private readonly writeHost: BucketWriteHost;
  /** When the current wait passed its spin phase (Date.now()). */
  private waitSince = 0;
  private readonly waitTimeoutMs: number;
  private readonly recoveryHost: RecoveryHost;
  /** Key block allocated for the EMPTY lane locked by the last `lockLaneStr`; NULL_BLOCK otherwise. */
  private lockedKeyRef = NULL_BLOCK;
  /**
   * The table's epoch, T_SIZE and T_REMAINING when a reclaimTombstoneKeys scan
   * in this thread last freed nothing and skipped no bucket that a writer held
   * (all -1: none yet). While all three are unchanged no tombstone with a key
   * block has appeared since (reclaimTombstoneKeys says why), so the next
   * insert that hits FULL skips the O(capacity) scan.
   */
  private barrenReclaim: [epoch: number, size: number, remaining: number] = [-1, -1, -1];
  /** This thread's views of the buffer (words, bytes, 16-bit units); `words` is `views.words`. */
  private views: Views;
  // The key of the write in progress, set by prepareKey (JS runs one operation per thread at a time).
  private opInt = 0;
  private opText = '';
  private opKey: Prepared | undefined = undefined;
  private opHash = 0;
  /** The string key of the write in progress is in `packedKey` (all units <= 0xFF; prepareKey). */
  private opPacked = false;
  private readonly arenaHost: ArenaHost;
  private readonly migrationHost: MigrationHost;
  private readonly iterationHost: BucketIterationHost;

  /**
   * Create a new map in a fresh SharedArrayBuffer.
   * @throws FlatshareTypeError / FlatshareRangeError with code `ERR_FLATSHARE_OPTIONS` for bad options,
   *   for example an unknown `keys` or `values` kind or a `maxBytes` too small for `capacity`.
   */
  constructor(options: SharedFlatMapOptions = {}) {
    // `attach` opens an existing map through this constructor too, so that both kinds of
    // instance get every per-thread field in the same order (one hidden class).
    const pending = attaching;
    attaching = undefined;
    const { memory, views, keys, values, hasher, waitTimeoutMs } = pending ?? createMap(options);
    const words = views.words;
    this.handle = { flatshare: LAYOUT_VERSION, memory: memory.memory, keys, values, hasherId: hasher.id };
    this.memory = memory;
    this.wasm = instantiateBucketReadPath(memory.memory);
    this.views = views;
    this.words = words;
    this.keyKind = keys;
    this.valueKind = values;
    this.hasher = hasher;
    this.murmurInline = isBuiltInMurmur3(hasher);
    this.murmurSeed = hasher.seed | 0;
    this.g = bucketGeometry(keys, values); // lane words as writeHeader recorded them in H_LANE_INTS; attach checked them
    this.lanes = this.g.lanes;
    this.valueAt = B_LANES + valueColumn(keys) * this.lanes;
    this.keyRefAt = B_LANES + C_KEY_REF * this.lanes;
    this.isFloat = values === 'float64';
    this.strKeys = keys === 'string';
    this.refValues = isRefValue(values);
    this.wput = instantiateBucketWritePath(memory.memory);
    this.wput.configure(this.isFloat ? 1 : 0, ORDERED_PLAIN_LOADS ? 0 : 1);
    this.wput.configureCopy(this.lanes, this.g.laneInts, this.g.keyInts, this.murmurSeed);
    this.i32Match = new Int32LaneMatcher(this.g);
    this.strMatch = new StringLaneMatcher(this.g, views);
    this.fastPut = !this.strKeys && !this.refValues;
    this.fastPutStr = this.strKeys && !this.refValues && this.murmurInline && LITTLE_ENDIAN;
    this.fastDelStr = this.strKeys && this.murmurInline && LITTLE_ENDIAN;
    this.fastGet = this.fastPut && !this.isFloat && this.murmurInline;
    this.probeI32 = this.wasm.getI32;
    this.callSite = this.fastPut ? takeCallSite('int32') : this.fastDelStr ? takeCallSite('string') : 0;
    this.mapId = readMapId(words);
    this.waitTimeoutMs = waitTimeoutMs;
    this.arenaHost = this.makeArenaHost();
    this.migrationHost = this.makeMigrationHost();
    this.iterationHost = this.makeIterationHost();
    this.recoveryHost = this.makeRecoveryHost();
    this.writeHost = this.makeWriteHost();
    this.refreshTable();
    this.warmUpWasm();
    registerMap(this.mapId, this);
  }

  /**
   * Attach to a map created in another thread (or this one) from its handle.
   * Checks the magic number, the layout version, the kinds and the hasher id.
   * @throws FlatshareTypeError `ERR_FLATSHARE_HANDLE` for something that is not a handle,
   *   FlatshareRangeError `ERR_FLATSHARE_LAYOUT_VERSION` for another layout version,
   *   FlatshareRangeError `ERR_FLATSHARE_HASHER` when the hasher is missing or has another id.
   */
  static attach<K = string, V = unknown>(handle: SharedFlatMapHandle, options: AttachOptions = {}): SharedFlatMap<K, V> {
    const { memory, views } = validateHandle(handle);
    const words = views.words;
    const keys = keyKindName(Atomics.load(words, H_KEY_KIND));
    const values = valueKindName(Atomics.load(words, H_VALUE_KIND));
    // The lane size follows from the kinds; the wasm probes assume it (lib/wasm/bucket-read-path.ts).
    const recordedLaneInts = Atomics.load(words, H_LANE_INTS);
    const expectedLaneInts = laneInts(keys, values);
    if (recordedLaneInts !== expectedLaneInts) {
      throw new FlatshareTypeError(
        ErrorCode.HANDLE,
        `attach: the handle memory is not a flatshare map (its header says ${recordedLaneInts} words per lane; ` +
          `${keys} keys with ${values} values take ${expectedLaneInts})`,
      );
    }
    const recordedId = readHasherId(words);
    let hasher: Hasher | undefined;
    if (options.hasher !== undefined) {
      hasher = validateHasher(options.hasher, 'options.hasher');
      if (hasher.id !== recordedId) {
        throw new FlatshareRangeError(
          ErrorCode.HASHER,
          `hasher id ${JSON.stringify(hasher.id)} does not match the map's hasher ${JSON.stringify(recordedId)}`,
        );
      }
    } else {
      hasher = rebuildHasher(recordedId);
      if (hasher === undefined) {
        throw new FlatshareRangeError(
          ErrorCode.HASHER,
          `the map uses hasher ${JSON.stringify(recordedId)}, which attach cannot rebuild by itself: ` +
            'pass the same hasher as SharedFlatMap.attach(handle, { hasher })',
        );
      }
    }
    const waitTimeoutMs = parseWaitTimeout(options.waitTimeoutMs, 'options.waitTimeoutMs');
    attaching = { memory, views, keys, values, hasher, waitTimeoutMs };
    return new SharedFlatMap<K, V>();
  }

  // ---------------------------------------------------------------- reads

  /**
   * The value stored for `key`, or `undefined`. Lock-free; never writes
   * shared memory; linearizable.
   * @throws `ERR_FLATSHARE_KEY` if `key` is not of the map's key kind.
   */
  get(key: K): V | undefined {
    if (this.fastGet) {
      // int32 keys and values, built-in murmur3: one wasm call (lib/wasm/read-bucket.wat getI32)
      // answers the value, READ_MISS or READ_RETRY. Everything it needs is a field of
      // `this`, so the call costs no more loads than it must (docs/design.md §4).
      const k = key as unknown as number;
      if (typeof k !== 'number' || (k | 0) !== k) checkInt32Key(key); // throws
      const hash = fmix32(k ^ this.murmurSeed);
      // One copy of the call per site (CALL_SITES): each keeps its own call
      // feedback, so up to that many maps per thread each keep V8's inlined
      // JS-to-wasm wrapper (wasm/call-sites.ts).
      const site = this.callSite;
      const r =
        site === 0
          ? this.probeI32(k, hash, this.tableFirst, this.tableBuckets, this.gen)
          : site === 1
            ? this.probeI32(k, hash, this.tableFirst, this.tableBuckets, this.gen)
            : site === 2
              ? this.probeI32(k, hash, this.tableFirst, this.tableBuckets, this.gen)
              : this.probeI32(k, hash, this.tableFirst, this.tableBuckets, this.gen);
      // READ_MISS as a literal: an imported const is a load on every call in V8
      // 11.3 optimized code (design.md §4; spec/unit/inlined-constants.test.ts).
      if (r < /* READ_MISS */ 4294967296) return r as V;
      if (r === /* READ_MISS */ 4294967296) return undefined;
      return this.getInt32Retry(k, hash) as V | undefined;
    }
    return this.getOther(key);
  }

  /** `get` for every map `fastGet` does not cover: string keys, arena or float64 values, other hashers. */
  private getOther(key: K): V | undefined {
    if (this.strKeys) return this.getByString(key);
    const k = key as unknown as number;
    if (typeof k !== 'number' || (k | 0) !== k) checkInt32Key(key); // throws
    const hash = this.murmurInline ? fmix32(k ^ this.murmurSeed) : this.hasher.hashInt(k);
    if (this.refValues) return this.getInt32Ref(k, hash) as V | undefined;
    if (this.isFloat) return this.getFloat64(k, hash) as V | undefined;
    const r = this.probeI32(k, hash, this.tableFirst, this.tableBuckets, this.gen);
    if (r < READ_MISS) return r as V;
    if (r === READ_MISS) return undefined;
    return this.getInt32Retry(k, hash) as V | undefined;
  }

  /**
   * The int32-key read after a READ_RETRY: refresh the cached table if the
   * generation moved (or back off while a writer holds the bucket), then probe
   * again. Kept out of `get` so that `get` stays small enough to inline.
   */
  private getInt32Retry(k: number, hash: number): number | undefined {
    for (let attempt = 0; ; attempt++) {
      this.afterFailedRead(attempt);
      const r = this.wasm.getI32(k, hash, this.tableFirst, this.tableBuckets, this.gen);
      if (r < READ_MISS) return r;
      if (r !== READ_RETRY) return undefined;
    }
  }

  /** The int32-key read for float64 values: the wasm probe returns a status, the value is `lastF64()`. One copy of the call per site. */
  private getFloat64(k: number, hash: number): number | undefined {
    const wasm = this.wasm;
    const site = this.callSite; // one copy per call site, as in `get` (wasm/call-sites.ts)
    for (let attempt = 0; ; attempt++) {
      const status =
        site === 0
          ? wasm.getF64(k, hash, this.tableFirst, this.tableBuckets, this.gen)
          : site === 1
            ? wasm.getF64(k, hash, this.tableFirst, this.tableBuckets, this.gen)
            : site === 2
              ? wasm.getF64(k, hash, this.tableFirst, this.tableBuckets, this.gen)
              : wasm.getF64(k, hash, this.tableFirst, this.tableBuckets, this.gen);
      if (status === STATUS_HIT) return wasm.lastF64();
      if (status !== STATUS_RETRY) return undefined;
      this.afterFailedRead(attempt);
    }
  }

  /**
   * The int32-key read for arena values (string, bytes, json): the value word
   * is a block index, decoded inside the read window (bounds-checked) and, for
   * json, parsed only after validation (bucket-read.ts readLane).
   */
  private getInt32Ref(k: number, hash: number): unknown {
    const hit = this.hit;
    for (let attempt = 0; ; attempt++) {
      const words = this.words;
      const gen = this.gen;
      this.i32Match.key = k;
      const r = readLane(words, this.table, this.g, gen, hash, this.i32Match.match, hit);
      if (r === LANE_READ_MISS) return undefined;
      if (r === LANE_READ_HIT) {
        const value = this.readLaneValue(words, hit.at, hit.lane);
        if (laneStillValid(words, hit.at, hit.seq, gen)) {
          if (value !== TORN) return this.finishValue(value);
          this.checkViewsBehind(); // the value block lies past this thread's views: refresh them and retry
        }
      }
      this.afterFailedRead(attempt);
    }
  }

  /**
   * `get` for string keys: walk the chain by the stored full hash, then compare
   * the key block with the key. A key block is immutable while its table is
   * current, so a non-matching lane is skipped without validation, as for
   * int32 keys. (The one exception, a tombstone whose key block is reclaimed,
   * changes only a lane that holds no live key: skipping it is right either
   * way; reclaimTombstoneKeys.)
   *
   * Keys of at most PACKED_KEY_MAX_UNITS units, all <= 0xFF (on a
   * little-endian CPU), are packed into 32-bit words once per call, in the
   * same pass as the hash for the built-in murmur3 (`murmur3StringPacked`),
   * and compared with the block one word per 4 units (`blockEqualsPacked`).
   * Other keys are compared unit by unit (`blockEqualsString`).
   *
   * With the built-in murmur3, a packed key of at most KEY_MAX_UNITS units is
   * looked up by one WebAssembly call first (wasm/read-bucket.wat); a RETRY
   * from it, and every other key, runs the JS walk (bucket-read.ts readLane).
   */
  private getByString(key: K): V | undefined {
    const k = checkStringKey(key);
    const n = k.length;
    const packable = n <= PACKED_KEY_MAX_UNITS && LITTLE_ENDIAN;
    let hash: number;
    if (packable && this.murmurInline) {
      hash = murmur3StringPacked(k, this.murmurSeed, packedKey);
    } else {
      hash = this.hasher.hashString(k);
      if (packable) packLatin1(k, packedKey); // after the (possibly user) hasher: nothing runs between pack and compare
    }
    const packed = packable && packedKey.unitsOr <= LATIN1_MAX_UNIT;
    if (packed && n <= KEY_MAX_UNITS && this.fastDelStr) {
      const ws = this.wasm;
      const w = packedKey.words;
      const header = (n << BLOCK_TAG_BITS) | TAG_LATIN1;
      const first = this.tableFirst;
      const buckets = this.tableBuckets;
      const gen = this.gen;
      // One copy of each call per site, as in `get` (wasm/call-sites.ts): the string maps of a
      // thread take the sites of their own family.
      const site = this.callSite;
      if (this.refValues) {
        const lanes = this.lanes;
        const at =
          site === 0
            ? ws.findStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, first, buckets, lanes, gen)
            : site === 1
              ? ws.findStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, first, buckets, lanes, gen)
              : site === 2
                ? ws.findStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, first, buckets, lanes, gen)
                : ws.findStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, first, buckets, lanes, gen);
        if (at === FIND_MISS) return undefined;
        if (at > 0) {
          // The key is in a FULL lane of the bucket at `at` as of s1: read the value block, then validate.
          const words = this.words;
          const s1 = ws.lastSeq();
          const value = this.readLaneValue(words, at, ws.lastLane());
          if (value !== TORN && laneStillValid(words, at, s1, gen)) return this.finishValue(value) as V | undefined;
        }
      } else if (this.isFloat) {
        const status =
          site === 0
            ? ws.getStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, first, buckets, gen)
            : site === 1
              ? ws.getStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, first, buckets, gen)
              : site === 2
                ? ws.getStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, first, buckets, gen)
                : ws.getStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, first, buckets, gen);
        if (status === STATUS_HIT) return ws.lastF64() as V;
        if (status !== STATUS_RETRY) return undefined;
      } else {
        const r =
          site === 0
            ? ws.getStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, first, buckets, gen)
            : site === 1
              ? ws.getStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, first, buckets, gen)
              : site === 2
                ? ws.getStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, first, buckets, gen)
                : ws.getStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, first, buckets, gen);
        if (r < READ_MISS) return r as V;
        if (r === READ_MISS) return undefined;
      }
    }
    const m = this.strMatch;
    const hit = this.hit;
    for (let attempt = 0; ; attempt++) {
      const words = this.words;
      const gen = this.gen;
      m.hash = hash;
      m.text = k;
      m.packed = packed ? packedKey : undefined;
      m.views = this.views;
      const r = readLane(words, this.table, this.g, gen, hash, m.match, hit);
      if (r === LANE_READ_MISS) return undefined;
      if (r === LANE_READ_HIT) {
        const value = this.readLaneValue(words, hit.at, hit.lane);
        if (laneStillValid(words, hit.at, hit.seq, gen)) {
          if (!this.refValues) return value as V | undefined;
          if (value !== TORN) return this.finishValue(value) as V | undefined;
          this.checkViewsBehind(); // the value block lies past this thread's views: refresh them and retry
        }
      }
      this.afterFailedRead(attempt); // also a key block past this thread's views (MATCH_RESTART): refreshed there
    }
  }

  /** True when `key` has a value. Same guarantees as `get`. */
  has(key: K): boolean {
    return this.get(key) !== undefined;
  }

  /**
   * Live entries, from a counter that writers update. Racy by nature: under
   * concurrent writes it can be stale by the operations in flight.
   */
  get size(): number {
    for (;;) {
      const gen = this.currentGen();
      const size = Atomics.load(this.words, this.table.base + T_SIZE);
      if (genOf(Atomics.load(this.words, H_EPOCH)) === gen) return size;
    }
  }

  /**
   * Bytes of shared memory this map has committed: one copy for every thread.
   * It grows in whole 64 KiB pages (doubling up to 1 MiB, then at least 1 MiB
   * at a time) and never shrinks; it includes retired table regions kept for
   * reuse. Racy: another thread may grow the memory at any moment. (Read
   * through `bufferCovering`: this thread's own buffer can lag behind another
   * thread's grow, lib/memory.ts.)
   */
  get byteLength(): number {
    return this.memory.bufferCovering(this.allocatedBytes()).byteLength;
  }

  // ---------------------------------------------------------------- writes

  /**
   * Store `value` for `key`. Returns the map, like `Map.set`.
   * @throws `ERR_FLATSHARE_KEY` / `ERR_FLATSHARE_VALUE` for bad input, `ERR_FLATSHARE_FULL`
   *   when the map would exceed maxBytes. The map is unchanged when it throws.
   */
  set(key: K, value: V): this {
    if (this.fastPut) {
      // int32 key and value of the map's kind: one wasm call does the whole write
      // unless it has to wait for something (lib/wasm/write-bucket.wat).
      const k = key as unknown as number;
      const v = value as unknown as number;
      if (typeof k === 'number' && (k | 0) === k && typeof v === 'number' && (this.isFloat || (v | 0) === v)) {
        const hash = this.murmurInline ? fmix32(k ^ this.murmurSeed) : this.hasher.hashInt(k);
        const w = this.wput;
        const site = this.callSite; // one copy of the int32 put per call site, as in `get` (wasm/call-sites.ts)
        // putF64 has one site: its copies made every int32 overwrite ~2.4 ns slower (39.1-40.5 ->
        // 41.5-41.6 ns, suite child at 100k, pinned, 3 alternating pairs), more than they save.
        const r = this.isFloat
          ? w.putF64(k, hash, v, this.tableFirst, this.tableBuckets, this.gen, this.tableBase)
          : site === 0
            ? w.putI32(k, hash, v, this.tableFirst, this.tableBuckets, this.gen, this.tableBase)
            : site === 1
              ? w.putI32(k, hash, v, this.tableFirst, this.tableBuckets, this.gen, this.tableBase)
              : site === 2
                ? w.putI32(k, hash, v, this.tableFirst, this.tableBuckets, this.gen, this.tableBase)
                : w.putI32(k, hash, v, this.tableFirst, this.tableBuckets, this.gen, this.tableBase);
        if (r !== PUT_SLOW) return this;
        return this.setSlow(key, value, hash); // the hasher is called once per set
      }
    } else if (this.fastPutStr && this.trySetStr(key, value)) {
      return this;
    }
    return this.setSlow(key, value, undefined);
  }

  /**
   * `set` of a string key through the wasm put (lib/wasm/write-bucket.wat): true
   * when it is done. False, with nothing changed, for what it does not take (a
   * key longer than KEY_MAX_UNITS or with a unit above 0xFF, a value of the
   * wrong kind, no room for a key block) and for what it hands back (a wait of
   * any kind): `set` then runs the JS path, which checks, waits or throws.
   * A new key costs two calls: the first finds it absent (PUT_NEED_BLOCK), JS
   * allocates and writes its key block, the second inserts it.
   */
  private trySetStr(key: K, value: V): boolean {
    const text = key as unknown as string;
    const v = value as unknown as number;
    if (typeof text !== 'string' || text.length > KEY_MAX_UNITS || typeof v !== 'number') return false;
    if (!this.isFloat && (v | 0) !== v) return false;
    const n = text.length;
    const hash = murmur3StringPacked(text, this.murmurSeed, packedKey);
    if (packedKey.unitsOr > LATIN1_MAX_UNIT) return false;
    const header = (n << BLOCK_TAG_BITS) | TAG_LATIN1;
    let r = this.putStr(hash, header, v, NULL_BLOCK);
    if (r === PUT_NEED_BLOCK) {
      let block: number;
      try {
        block = allocateBlock(this.arenaHost, n, TAG_LATIN1);
      } catch (error) {
        if ((error as { code?: string }).code === ErrorCode.FULL) return false; // the JS path may rehash first
        throw error;
      }
      writeBlockPacked(this.words, block, packedKey, n);
      r = this.putStr(hash, header, v, block);
      if (r !== PUT_STORED_BLOCK) freeBlock(this.arenaHost, block);
    }
    return r !== PUT_SLOW;
  }

  /** One call of the wasm string put with the key packed in `packedKey` and the cached table. */
  private putStr(hash: number, header: number, v: number, keyRef: number): number {
    const w = packedKey.words;
    const put = this.wput;
    const site = this.callSite; // one copy per call site, as in `get` (wasm/call-sites.ts)
    if (this.isFloat) {
      return site === 0
        ? put.putStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableFirst, this.tableBuckets, this.gen, this.tableBase, keyRef)
        : site === 1
          ? put.putStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableFirst, this.tableBuckets, this.gen, this.tableBase, keyRef)
          : site === 2
            ? put.putStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableFirst, this.tableBuckets, this.gen, this.tableBase, keyRef)
            : put.putStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableFirst, this.tableBuckets, this.gen, this.tableBase, keyRef);
    }
    return site === 0
      ? put.putStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableFirst, this.tableBuckets, this.gen, this.tableBase, keyRef)
      : site === 1
        ? put.putStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableFirst, this.tableBuckets, this.gen, this.tableBase, keyRef)
        : site === 2
          ? put.putStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableFirst, this.tableBuckets, this.gen, this.tableBase, keyRef)
          : put.putStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableFirst, this.tableBuckets, this.gen, this.tableBase, keyRef);
  }

  /**
   * `set` in JS: every key and value kind, and every case the wasm put hands
   * back (PUT_SLOW). `hash`: the int32 key's hash when `set` computed it already.
   */
  private setSlow(key: K, value: V, hash: number | undefined): this {
    const pv = this.refValues ? this.prepareRefValue(value, 'value') : undefined;
    const v = pv === undefined ? this.checkValue(value, 'value') : 0;
    this.prepareKeyOrHash(key, true, hash);
    this.beginWrite();
    let at = -1;
    let ref = NULL_BLOCK;
    try {
      if (pv !== undefined) ref = this.allocateValue(pv);
      at = this.lock(true);
      const old = this.writeEntry(at, pv === undefined ? v : ref);
      at = -1;
      ref = NULL_BLOCK;
      if (old !== NULL_BLOCK) freeBlock(this.arenaHost, old);
    } finally {
      this.endWrite(at, ref);
    }
    return this;
  }

  /**
   * Like `set`, but returns `'full'` instead of throwing when the map would
   * exceed maxBytes (bad keys and values still throw).
   */
  trySet(key: K, value: V): TrySetStatus {
    try {
      this.set(key, value);
      return 'ok';
    } catch (error) {
      if ((error as { code?: string }).code === ErrorCode.FULL) return 'full';
      throw error;
    }
  }

  /** Remove `key`. Returns true if it was present. Linearizable. */
  delete(key: K): boolean {
    if (this.fastPut) {
      // One wasm call unless something has to be waited for (lib/wasm/write-bucket.wat).
      const k = key as unknown as number;
      if (typeof k === 'number' && (k | 0) === k) {
        const hash = this.murmurInline ? fmix32(k ^ this.murmurSeed) : this.hasher.hashInt(k);
        const w = this.wput;
        const site = this.callSite; // one copy per call site, as in `get` (wasm/call-sites.ts)
        const r =
          site === 0
            ? w.deleteI32(k, hash, this.tableFirst, this.tableBuckets, this.gen, this.tableBase)
            : site === 1
              ? w.deleteI32(k, hash, this.tableFirst, this.tableBuckets, this.gen, this.tableBase)
              : site === 2
                ? w.deleteI32(k, hash, this.tableFirst, this.tableBuckets, this.gen, this.tableBase)
                : w.deleteI32(k, hash, this.tableFirst, this.tableBuckets, this.gen, this.tableBase);
        if (r !== DEL_SLOW) return r === DEL_DELETED;
        return this.deleteSlow(key, hash);
      }
    } else if (this.fastDelStr) {
      const r = this.tryDeleteStr(key);
      if (r !== DEL_SLOW) return r === DEL_DELETED;
    }
    return this.deleteSlow(key, undefined);
  }

  /**
   * `delete` of a string key through the wasm delete: DEL_DELETED, DEL_ABSENT,
   * or DEL_SLOW with nothing changed for what it does not take (a key longer
   * than KEY_MAX_UNITS or with a unit above 0xFF, not a string) and for what it
   * hands back (a wait of any kind). An arena value's block is freed here.
   */
  private tryDeleteStr(key: K): number {
    const text = key as unknown as string;
    if (typeof text !== 'string' || text.length > KEY_MAX_UNITS) return DEL_SLOW;
    const hash = murmur3StringPacked(text, this.murmurSeed, packedKey);
    if (packedKey.unitsOr > LATIN1_MAX_UNIT) return DEL_SLOW;
    const w = packedKey.words;
    const header = (text.length << BLOCK_TAG_BITS) | TAG_LATIN1;
    const put = this.wput;
    const site = this.callSite; // one copy per call site, as in `get` (wasm/call-sites.ts)
    const r =
      site === 0
        ? put.deleteStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, this.lanes, this.tableFirst, this.tableBuckets, this.gen, this.tableBase)
        : site === 1
          ? put.deleteStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, this.lanes, this.tableFirst, this.tableBuckets, this.gen, this.tableBase)
          : site === 2
            ? put.deleteStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, this.lanes, this.tableFirst, this.tableBuckets, this.gen, this.tableBase)
            : put.deleteStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, this.lanes, this.tableFirst, this.tableBuckets, this.gen, this.tableBase);
    if (r === DEL_DELETED && this.refValues) freeBlock(this.arenaHost, put.lastOld());
    return r;
  }

  /** `delete` in JS; `hash`: the int32 key's hash when `delete` computed it already. */
  private deleteSlow(key: K, hash: number | undefined): boolean {
    this.prepareKeyOrHash(key, false, hash);
    this.beginWrite();
    let at = -1;
    try {
      at = this.lock(false);
      if (at < 0) return false;
      const held = this.held;
      if (held.state !== LANE_FULL) return false; // a tombstone: aborted in finally
      const old = this.refValues ? (this.words[at + this.valueAt + held.lane] as number) : NULL_BLOCK;
      // Publishes the deletion; the key stays (TOMBSTONE), the value block is unlinked.
      deleteLane(this.writeHost, this.table, held);
      at = -1;
      if (old !== NULL_BLOCK) freeBlock(this.arenaHost, old);
      return true;
    } finally {
      this.endWrite(at);
    }
  }

  /**
   * Return the value of `key`; if it is absent, store `value` first. Exactly
   * one of several threads racing to insert the same key wins; all of them
   * return the winner's value (for json values: an equal copy).
   */
  getOrSet(key: K, value: V): V {
    const present = this.get(key);
    if (present !== undefined) return present;
    const pv = this.refValues ? this.prepareRefValue(value, 'value') : undefined;
    const v = pv === undefined ? this.checkValue(value, 'value') : 0;
    this.prepareKey(key, true);
    this.beginWrite();
    let at = -1;
    let ref = NULL_BLOCK;
    try {
      if (pv !== undefined) ref = this.allocateValue(pv);
      at = this.lock(true);
      if (this.held.state === LANE_FULL) return this.readLockedValue(at) as V; // aborted in finally
      this.writeEntry(at, pv === undefined ? v : ref);
      at = -1;
      ref = NULL_BLOCK;
      return value;
    } finally {
      this.endWrite(at, ref);
    }
  }

  /**
   * Atomically add `delta` to the numeric value of `key` (absent counts as 0)
   * and return the new value. Only for `'int32'` and `'float64'` values.
   * @throws `ERR_FLATSHARE_VALUE` (RangeError) when an int32 result would overflow; the value is unchanged.
   *   `ERR_FLATSHARE_UNSUPPORTED` for string, bytes and json values.
   */
  add(key: K, delta: number): number {
    if (this.fastPut && !this.isFloat) {
      // int32 key and delta: one wasm call does the whole add unless it has to
      // wait for something or would overflow (lib/wasm/write-bucket.wat addI32).
      const k = key as unknown as number;
      if (typeof k === 'number' && (k | 0) === k && typeof delta === 'number' && (delta | 0) === delta) {
        const hash = this.murmurInline ? fmix32(k ^ this.murmurSeed) : this.hasher.hashInt(k);
        const w = this.wput;
        const site = this.callSite; // one copy per call site, as in `get` (wasm/call-sites.ts)
        const r =
          site === 0
            ? w.addI32(k, hash, delta, this.tableFirst, this.tableBuckets, this.gen, this.tableBase)
            : site === 1
              ? w.addI32(k, hash, delta, this.tableFirst, this.tableBuckets, this.gen, this.tableBase)
              : site === 2
                ? w.addI32(k, hash, delta, this.tableFirst, this.tableBuckets, this.gen, this.tableBase)
                : w.addI32(k, hash, delta, this.tableFirst, this.tableBuckets, this.gen, this.tableBase);
        if (r !== ADD_SLOW_RESULT || w.handedBack() === 0) return r;
        return this.addSlow(key, delta, hash); // the hasher is called once per add
      }
    }
    return this.addSlow(key, delta, undefined);
  }

  /** `add` in JS: float64 values, and every case addI32 hands back. `hash`: the int32 key's hash when `add` computed it. */
  private addSlow(key: K, delta: number, hash: number | undefined): number {
    if (this.refValues) {
      throw new FlatshareUnsupportedError(`add() needs int32 or float64 values; this map has ${this.valueKind} values`);
    }
    const d = this.checkValue(delta, 'delta');
    this.prepareKeyOrHash(key, true, hash);
    this.beginWrite();
    let at = -1;
    try {
      at = this.lock(true);
      const current = this.held.state === LANE_FULL ? (this.readLockedValue(at) as number) : 0;
      const next = current + d;
      if (!this.isFloat && (next | 0) !== next) {
        throw new FlatshareRangeError(
          ErrorCode.VALUE,
          `add(${describe(key)}, ${d}) would overflow int32: ${current} + ${d} = ${next}`,
        );
      }
      this.writeEntry(at, next);
      at = -1;
      return next;
    } finally {
      this.endWrite(at);
    }
  }

  /**
   * Set `key` to `next` only if its current value is `expected` (SameValueZero
   * for numbers, so NaN matches NaN; `===` for strings). `expected === undefined`
   * means "only if absent". Returns whether it stored `next`. For int32,
   * float64 and string values.
   * @throws `ERR_FLATSHARE_UNSUPPORTED` for bytes and json values.
   */
  compareAndSet(key: K, expected: V | undefined, next: V): boolean {
    if (this.refValues && this.valueKind !== 'string') {
      throw new FlatshareUnsupportedError(
        `compareAndSet() needs int32, float64 or string values; this map has ${this.valueKind} values`,
      );
    }
    let want: number | string | undefined;
    if (expected !== undefined) want = this.refValues ? prepareStringValue(expected, 'expected').text : this.checkValue(expected, 'expected');
    const pv = this.refValues ? this.prepareRefValue(next, 'next') : undefined;
    const v = pv === undefined ? this.checkValue(next, 'next') : 0;
    this.prepareKey(key, want === undefined);
    this.beginWrite();
    let at = -1;
    let ref = NULL_BLOCK;
    try {
      at = this.lock(want === undefined);
      if (at < 0) return false;
      const isFull = this.held.state === LANE_FULL;
      const matches =
        want === undefined
          ? !isFull
          : isFull && (this.refValues ? this.readLockedValue(at) === want : sameValueZero(this.readLockedValue(at) as number, want as number));
      if (!matches) return false; // aborted in finally
      if (pv !== undefined) ref = this.allocateValue(pv);
      const old = this.writeEntry(at, pv === undefined ? v : ref);
      at = -1;
      ref = NULL_BLOCK;
      if (old !== NULL_BLOCK) freeBlock(this.arenaHost, old);
      return true;
    } finally {
      this.endWrite(at, ref);
    }
  }

  /**
   * Remove every entry. Atomic for readers: a concurrent `get` sees the map
   * either before or after the clear. Writes that overlap the clear may land
   * before it (and be cleared) or after it.
   */
  clear(): void {
    this.beginWrite();
    try {
      for (;;) {
        const epoch = this.enterGeneration();
        startMigration(this.migrationHost, epoch, true);
        if (genOf(Atomics.load(this.words, H_EPOCH)) !== genOf(epoch)) return;
      }
    } finally {
      this.endWrite();
    }
  }

  // ---------------------------------------------------------------- iteration

  /**
   * Iterate over `[key, value]` pairs. Weakly consistent, like Java's
   * ConcurrentHashMap: every entry present for the whole iteration is yielded
   * exactly once, even across resizes and clears; entries added or removed
   * during the iteration may or may not be. The order is unspecified.
   */
  *entries(): IterableIterator<[K, V]> {
    for (const [k, v] of iterateBucketEntries(this.iterationHost)) yield [k as K, v as V];
  }

  /** Keys, weakly consistent (see `entries`). */
  *keys(): IterableIterator<K> {
    for (const [k] of iterateBucketEntries(this.iterationHost)) yield k as K;
  }

  /** Values, weakly consistent (see `entries`). */
  *values(): IterableIterator<V> {
    for (const [, v] of iterateBucketEntries(this.iterationHost)) yield v as V;
  }

  /** Same as `entries()`. */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  /** Call `callback(value, key, map)` for each entry, weakly consistent (see `entries`). */
  forEach(callback: (value: V, key: K, map: this) => void, thisArg?: unknown): void {
    for (const [k, v] of iterateBucketEntries(this.iterationHost)) callback.call(thisArg, v as V, k as K, this);
  }

  get [Symbol.toStringTag](): string {
    return 'SharedFlatMap';
  }

  /**
   * Repair what thread `threadId` left in the map when it died inside an
   * operation: bucket locks (its half-done write is completed from the intent in
   * its writer record, or undone if it had not committed one), arena free-list
   * locks, a migration it was allocating or flipping, migration chunks it had
   * claimed, and its writer record. Returns what was repaired. Idempotent.
   * Arena blocks the dead thread had allocated but not yet published, or had
   * unlinked but not yet freed, are leaked (bounded by one or two per kill).
   *
   * Recovery runs automatically, in the thread that created the Worker, when
   * the worker's `'exit'` event fires (for every map created or attached in
   * that thread before the worker was created). Call this yourself when that
   * thread cannot see the exit (the map lives in a thread that did not create
   * the worker, or the worker was created before the map).
   *
   * **Only call it for a thread that has stopped** (after its `'exit'` event):
   * recovering a live thread breaks its operation in progress.
   * @throws `ERR_FLATSHARE_RECOVERY` for the calling thread's own id or a non-integer.
   */
  recover(threadId: number): RecoveryReport {
    if (!Number.isInteger(threadId) || threadId < 0 || threadId === currentThreadId) {
      throw new FlatshareRangeError(
        ErrorCode.RECOVERY,
        `recover(threadId) needs the id of another, stopped thread; got ${describe(threadId)}`,
      );
    }
    this.beginWrite();
    try {
      return recoverThread(this.recoveryHost, threadId, currentThreadId + 1);
    } finally {
      this.endWrite();
    }
  }

  /**
   * Give back this thread's writer record (one of MAX_WRITERS per map). Call it
   * in a thread that will not write to the map again, e.g. before a worker exits.
   * The record is the thread's, not the instance's: every instance of the map
   * in this thread (from `new` or `attach`) gives it up. The map stays usable;
   * a later write through any of them claims a record again.
   */
  releaseThread(): void {
    releaseWriterRecord(this.words, this.mapId);
    // Every instance of this map in this thread cached the same record
    // (writers.ts caches it per thread by map id): all of them forget it, so
    // the next write through any of them claims a record again.
    for (const instance of instancesOf(this.mapId)) instance.dropWriterRecord();
    this.dropWriterRecord();
  }

  /** @internal Forget the cached writer record (releaseThread on any instance of this map in this thread). */
  dropWriterRecord(): void {
    this.writerRec = -1;
    this.wput.setWriter(0, 0);
  }

  /**
   * @internal White-box access for flatshare's own tests. Not part of the API.
   */
  static unsafeExposeInternals(map: SharedFlatMap<unknown, unknown>): SharedFlatMapInternals {
    map.currentGen();
    return {
      words: map.words,
      buffer: map.memory.buffer,
      memory: map.memory,
      gen: map.gen,
      table: { ...map.table },
      g: map.g,
      writerRecord: map.writerRec,
    };
  }

  // ---------------------------------------------------------------- internals

  private checkValue(value: unknown, what: string): number {
    return this.isFloat ? checkFloat64Value(value, what) : checkInt32Value(value, what);
  }

  /** Validate and encode a string, bytes or json value (before anything shared is touched). */
  private prepareRefValue(value: unknown, what: string): Prepared {
    switch (this.valueKind) {
      case 'string':
        return prepareStringValue(value, what);
      case 'bytes':
        return prepareBytesValue(value, what);
      default:
        return prepareJsonValue(value, what);
    }
  }

  /** Allocate and fill the arena block of a prepared value; not yet published. */
  private allocateValue(p: Prepared): number {
    const block = allocateBlock(this.arenaHost, p.byteLength, p.tag);
    if (p.raw !== undefined) writeBlockBytes(this.views, block, p.raw);
    else writeBlockString(this.views, block, p.text, p.tag);
    return block;
  }

  /**
   * The JS paths behind the wasm set / delete / add: `hash` is the int32 key's
   * hash when the wasm attempt computed it (and validated the key), so the
   * hasher runs once per operation; undefined means prepareKey does both.
   */
  private prepareKeyOrHash(key: unknown, insert: boolean, hash: number | undefined): void {
    if (hash === undefined) {
      this.prepareKey(key, insert);
    } else {
      this.opInt = key as number;
      this.opHash = hash;
    }
  }

  /**
   * Validate `key` and compute its hash into the op* fields. With `insert`,
   * a string key is also measured against MAX_KEY_BYTES, since it may need a block.
   */
  private prepareKey(key: unknown, insert: boolean): void {
    if (this.strKeys && this.murmurInline && LITTLE_ENDIAN) {
      const text = checkStringKey(key);
      if (text.length <= PACKED_KEY_MAX_UNITS) {
        // One pass over the key: its hash, its packed one-byte form, and whether it has one.
        this.opHash = murmur3StringPacked(text, this.murmurSeed, packedKey);
        this.opPacked = packedKey.unitsOr <= LATIN1_MAX_UNIT;
        this.opText = text;
        this.opKey = insert ? prepareStringKeyTagged(text, this.opPacked ? TAG_LATIN1 : TAG_UTF16) : undefined;
        return;
      }
    }
    this.opPacked = false;
    if (this.strKeys) {
      const prepared = insert ? prepareStringKey(key) : undefined;
      this.opText = prepared === undefined ? checkStringKey(key) : prepared.text;
      this.opKey = prepared;
      this.opHash = this.hasher.hashString(this.opText);
    } else {
      this.opInt = checkInt32Key(key);
      this.opHash = this.hasher.hashInt(this.opInt);
    }
  }

  /** Lock the lane of the prepared key (see lockLane / lockLaneStr); its bucket's SEQ index, or -1 when absent and not inserting. */
  private lock(insert: boolean): number {
    return this.strKeys ? this.lockLaneStr(insert) : this.lockLane(this.opInt, this.opHash, insert);
  }

  /**
   * Read the value words of lane `lane` of the bucket at `at` inside a read
   * window (unvalidated): the number, or for arena values the decoded
   * string / bytes copy / json text, or TORN.
   */
  private readLaneValue(words: Int32Array, at: number, lane: number): unknown {
    const v = at + this.valueAt + lane;
    if (!this.refValues) return this.isFloat ? readFloat64Split(words, v, v + this.lanes) : loadWord(words, v);
    const block = loadWord(words, v);
    return this.valueKind === 'bytes'
      ? readBlockBytes(this.views, block, MAX_VALUE_BYTES)
      : readBlockString(this.views, block, MAX_VALUE_BYTES);
  }

  /**
   * A validated lane whose value block read TORN. That is expected when another
   * thread grew the memory and allocated the block past the end of this
   * thread's views (the caller then retries: afterFailedRead refreshes them);
   * with views that reach the allocator's top it is a bug, and throws. (Not
   * compared with `memory.buffer.byteLength`, which can be stale: memory.ts.)
   */
  private checkViewsBehind(): void {
    if (this.views.bytes.length >= this.allocatedBytes()) {
      throw new Error('flatshare internal error: a validated lane references an invalid arena block');
    }
  }

  /** The user's value from a validated raw read (json: parse the text). */
  private finishValue(raw: unknown): unknown {
    if (raw === TORN) throw new Error('flatshare internal error: a validated lane references an invalid arena block');
    return this.valueKind === 'json' && raw !== undefined ? JSON.parse(raw as string) : raw;
  }

  /** The value of the lane this thread holds locked (FULL). */
  private readLockedValue(at: number): unknown {
    this.refreshViews();
    return this.finishValue(this.readLaneValue(this.words, at, this.held.lane));
  }

  /**
   * Write the prepared key (if the lane was EMPTY) and the value word(s) into
   * the locked lane and release its bucket (bucket-write.ts putLane: staged in
   * the writer record, committed, applied, so a thread killed half-way is
   * rolled forward). `v` is the number, or the index of the value's arena
   * block. Returns the value block the lane referenced before (to be freed by
   * the caller now that it is unlinked), or NULL_BLOCK.
   */
  private writeEntry(at: number, v: number): number {
    const held = this.held;
    const keyWords = this.keyWords;
    const valueWords = this.valueWords;
    if (this.strKeys) {
      keyWords[0] = this.opHash;
      keyWords[1] = this.lockedKeyRef; // used only for an EMPTY lane: putLane keeps a lane's own key otherwise
    } else {
      keyWords[0] = this.opInt;
    }
    let old = NULL_BLOCK;
    if (this.refValues && held.state === LANE_FULL) old = this.words[at + this.valueAt + held.lane] as number;
    if (this.isFloat) float64Words(v, valueWords);
    else valueWords[0] = v;
    // Publishes the key, the value (and the blocks they reference) and the lane's state together.
    putLane(this.writeHost, this.table, held, keyWords, valueWords, !ORDERED_PLAIN_LOADS);
    this.lockedKeyRef = NULL_BLOCK;
    return old;
  }

  /**
   * Release a lock without changing anything; gives back an EMPTY lane's
   * insert budget and the key block allocated for it.
   */
  private abortLock(_at: number): void {
    abortLane(this.writeHost, this.table, this.held);
    if (this.lockedKeyRef !== NULL_BLOCK) {
      const block = this.lockedKeyRef;
      this.lockedKeyRef = NULL_BLOCK;
      freeBlock(this.arenaHost, block);
    }
  }

  /**
   * `lockLane` for string keys (the key in opText / opKey, its hash in
   * opHash): lanes are matched by HASH, then by comparing the key block
   * (bucket-read.ts StringLaneMatcher). On taking an EMPTY lane for an insert,
   * the key block is allocated and filled under the lock (its index in
   * `lockedKeyRef`), so a key that is already present costs no allocation. If
   * that allocation fails the bucket is restored and the error propagates:
   * nothing changed. Exception: when it fails with ERR_FLATSHARE_FULL and the
   * table holds tombstones (whose key blocks are otherwise only freed when a
   * migration drops them), the writer rehashes once to free those blocks and
   * retries; when the rehash finds no room for its new table, it frees them
   * in place instead (`reclaimTombstoneKeys`) and retries once.
   */
  private lockLaneStr(insert: boolean): number {
    const hash = this.opHash;
    const text = this.opText;
    const m = this.strMatch;
    const held = this.held;
    let reclaimed = false;
    let rehashed = false;
    for (;;) {
      const epoch = this.enterGeneration();
      m.hash = hash;
      m.text = text;
      m.packed = this.opPacked ? packedKey : undefined;
      m.views = this.views;
      const table = this.table;
      const r = findLane(this.writeHost, table, epoch, hash, m.match, insert, held);
      if (r === LANE_ABSENT) return -1;
      if (r !== LANE_LOCKED) {
        // The epoch moved, or a key block lies beyond this thread's view (it was allocated
        // after the buffer grew): refresh the views and start over.
        this.refreshViews();
        continue;
      }
      if (held.state === LANE_EMPTY) {
        try {
          const key = this.opKey as Prepared;
          const block = allocateBlock(this.arenaHost, key.byteLength, key.tag);
          if (this.opPacked) writeBlockPacked(this.words, block, packedKey, key.text.length);
          else writeBlockString(this.views, block, key.text, key.tag);
          this.lockedKeyRef = block;
        } catch (error) {
          const words = this.words;
          abortLane(this.writeHost, table, held); // gives the unit of REMAINING back
          const used = insertBudget(table.buckets, this.lanes) - Atomics.load(words, table.base + T_REMAINING);
          const tombstones = used - Atomics.load(words, table.base + T_SIZE) > 0;
          if (!tombstones || (error as { code?: string }).code !== ErrorCode.FULL) throw error;
          // Tombstones still hold key blocks. A rehash frees them (releaseRetired) and the
          // tombstones' lanes too; then retry once.
          if (!rehashed) {
            rehashed = true;
            if (this.tryRehash(epoch)) continue;
          }
          // No room for a new table (a map at its maxBytes): free the blocks in place, which
          // needs no room, and retry once.
          if (reclaimed) throw error;
          reclaimed = true;
          if (this.reclaimTombstoneKeys(epoch) > 0) continue;
          throw error;
        }
      }
      return held.at;
    }
  }

  /**
   * Find and lock the lane of `k` in the current table (bucket-write.ts
   * findLane). With `insert`, an absent key gets the first EMPTY lane on its
   * chain, locked, with one unit of insert budget taken (starting a migration
   * when there is none). Returns the SEQ word index of the locked bucket (the
   * lane, its pre-lock SEQ and state in `held`), or -1 when `k` is absent and
   * `insert` is false.
   */
  private lockLane(k: number, hash: number, insert: boolean): number {
    for (;;) {
      const epoch = this.enterGeneration();
      this.i32Match.key = k;
      const r = findLane(this.writeHost, this.table, epoch, hash, this.i32Match.match, insert, this.held);
      if (r === LANE_LOCKED) return this.held.at;
      if (r === LANE_ABSENT) return -1;
    }
  }

  /** Start a same-size-or-larger rehash of table `epoch`; false when its new table does not fit (ERR_FLATSHARE_FULL; nothing changed). */
  private tryRehash(epoch: number): boolean {
    try {
      startMigration(this.migrationHost, epoch, false);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === ErrorCode.FULL) return false;
      throw error;
    }
  }

  /**
   * Free the key blocks of the current table's tombstones in place, for an
   * insert whose key block did not fit (lockLaneStr). Returns how many.
   *
   * Each bucket with such tombstones: lock it as any writer does
   * (tryLockBucket, so a migration or another writer makes it skip the
   * bucket), store NULL_BLOCK in those lanes' KEY_REF, release it with a new
   * SEQ, then free the blocks. A lane with NULL_BLOCK holds no key: every key
   * compare (blocks.ts, the wasm probes) treats it as "no match" and steps
   * past it, so the chains stay intact, and a later insert of its old key
   * takes an EMPTY lane instead of reviving it.
   *
   * Readers: one that read the old KEY_REF may compare its key with the freed
   * (maybe reused) block. "No match" is right, because the lane is a
   * tombstone; "match" is followed by its SEQ validation, which the new SEQ
   * fails. One that read NULL_BLOCK steps past. Writers CAS from the SEQ they
   * read, so they fail the same way.
   *
   * A thread that dies holding such a lock has committed no intent, so
   * recovery restores the old SEQ; KEY_REF may be NULL_BLOCK already, and the
   * blocks, not yet freed, leak (as a dead writer's blocks do: docs/design.md §9).
   */
  private reclaimTombstoneKeys(epoch: number): number {
    const words = this.words;
    const table = this.table;
    const lanes = this.lanes;
    const size = Atomics.load(words, table.base + T_SIZE);
    const remaining = Atomics.load(words, table.base + T_REMAINING);
    const [barrenEpoch, barrenSize, barrenRemaining] = this.barrenReclaim;
    // The memo: the last scan of this table freed nothing and skipped no held bucket, so
    // every tombstone then had NULL_BLOCK, and such a tombstone matches no key, so it is
    // never revived. A tombstone with a block since then needs a delete since then, and
    // each delete lowers SIZE. Only revivals raise SIZE again without taking an EMPTY lane
    // (which would lower REMAINING), and a revival needs a tombstone with a block, i.e. one
    // of those deletes: with SIZE and REMAINING unchanged, every tombstone made since has
    // been revived, and there is still nothing to free.
    if (epoch === barrenEpoch && size === barrenSize && remaining === barrenRemaining) return 0;
    let freed = 0;
    // Buckets a writer held while the scan passed: a delete in progress releases a tombstone
    // with its block, maybe after SIZE was read above.
    let skipped = 0;
    const blocks: number[] = [];
    scan: for (let b = 0; b < table.buckets; b++) {
      const at = bucketAt(table.first, b);
      const seq = Atomics.load(words, at);
      if ((seq & LOCKED) !== 0) {
        skipped++;
        continue;
      }
      const tombs = tombstoneLanes(Atomics.load(words, at + B_META), lanes);
      if (tombs === 0) continue;
      let withBlock = 0;
      for (let lane = 0; lane < lanes; lane++) {
        if (((tombs >>> lane) & 1) !== 0 && Atomics.load(words, at + this.keyRefAt + lane) !== NULL_BLOCK) withBlock |= 1 << lane;
      }
      if (withBlock === 0) continue;
      const outcome = tryLockBucket(this.writeHost, table, at, seq, epoch, false);
      if (outcome === BUCKET_RESTART) break scan; // the epoch moved: a migration frees them
      if (outcome !== BUCKET_TAKEN) {
        skipped++; // another writer took it first (BUCKET_LOST)
        continue;
      }
      blocks.length = 0;
      for (let lane = 0; lane < lanes; lane++) {
        if (((withBlock >>> lane) & 1) === 0) continue;
        blocks.push(words[at + this.keyRefAt + lane] as number);
        Atomics.store(words, at + this.keyRefAt + lane, NULL_BLOCK);
      }
      // The new SEQ makes every reader and writer that read the old KEY_REFs fail validation.
      Atomics.store(words, at, released(seq));
      clearLock(words, this.writerRec);
      for (const block of blocks) freeBlock(this.arenaHost, block);
      freed += blocks.length;
    }
    if (freed === 0 && skipped === 0) this.barrenReclaim = [epoch, size, remaining];
    return freed;
  }

  /**
   * Wait out any migration, make sure the cached table is generation g's,
   * announce g in this thread's writer record, and return the STABLE epoch.
   */
  private enterGeneration(): number {
    const rec = this.writerRec;
    for (;;) {
      // loadWord: a plain load on x86 (ordered after the previous operation's
      // locked instructions; helpOrWait is a call, so it is reloaded each turn).
      const epoch = loadWord(this.words, H_EPOCH);
      if (phaseOf(epoch) !== PHASE_STABLE) {
        // Idle while waiting: an announcement left from an earlier turn (a lock that
        // lost to the migration) would keep the allocator from reusing the retired
        // region of that generation, and an allocator at maxBytes waits for it
        // (migration.ts allocateTable): a deadlock. helpCopy announces for itself,
        // and the store below announces again before this thread touches a table.
        storeWord(this.words, rec + W_ACTIVE_GEN, 0);
        helpOrWait(this.migrationHost, epoch);
        continue;
      }
      if (genOf(epoch) !== this.gen) this.refreshTable();
      // Announce, then re-read (the allocator CASes the epoch, then reads every
      // announcement). Atomics.store is an xchg on x86, a full fence, so the
      // plain re-read below cannot be performed before the announcement is visible.
      Atomics.store(this.words, rec + W_ACTIVE_GEN, genOf(epoch) + 1);
      if (loadWord(this.words, H_EPOCH) === epoch) return epoch;
    }
  }

  private beginWrite(): void {
    if (this.writerRec < 0) {
      this.writerRec = claimWriterRecord(this.words, this.mapId);
      this.recTag = recordTag(this.writerRec);
      this.wput.setWriter(this.writerRec, this.recTag);
    }
  }

  /**
   * One step of a wait (attempt counts the steps): spin, then sleep; past the
   * spin phase, repair DEAD threads now and then and throw ERR_FLATSHARE_TIMEOUT
   * after `waitTimeoutMs` (recovery.ts `checkStall`).
   */
  private pause(attempt: number, what: string): void {
    backoff(attempt);
    if (attempt < SPIN_ROUNDS) return;
    if (attempt === SPIN_ROUNDS) this.waitSince = Date.now();
    checkStall(this.recoveryHost, currentThreadId + 1, attempt, this.waitSince, this.waitTimeoutMs, what);
  }

  /**
   * End a write operation: if a bucket is still locked (`lockedAt >= 0`, because
   * the operation decided not to change it or something threw), restore it
   * unchanged; then mark this thread's writer record idle.
   */
  private endWrite(lockedAt = -1, unusedBlock = NULL_BLOCK): void {
    try {
      if (lockedAt >= 0) this.abortLock(lockedAt);
      if (unusedBlock !== NULL_BLOCK) freeBlock(this.arenaHost, unusedBlock);
    } finally {
      // Idle. A plain store on x86: an allocator that still reads the old
      // announcement only delays a region's reuse.
      storeWord(this.words, this.writerRec + W_ACTIVE_GEN, 0);
    }
  }

  /**
   * Free the arena blocks that only the retired table `old` referenced, after
   * the flip (see MigrationHost.releaseRetired): tombstones' key blocks, and
   * after a clear the key and value blocks of every entry.
   */
  private releaseRetired(words: Int32Array, old: TableInfo, clear: boolean): void {
    const lanes = this.lanes;
    for (let b = 0; b < old.buckets; b++) {
      const at = bucketAt(old.first, b);
      const seq = settledSeq(words, at, (attempt, what) => this.pause(attempt, what));
      if (seq === undefined) continue; // held by a thread that died: its blocks leak
      const meta = Atomics.load(words, at + B_META);
      const occupied = occupiedLanes(meta, lanes);
      const tombs = tombstoneLanes(meta, lanes);
      for (let lane = 0; lane < lanes; lane++) {
        if (((occupied >>> lane) & 1) === 0) continue;
        const tomb = ((tombs >>> lane) & 1) !== 0;
        if (!tomb && !clear) continue;
        if (this.strKeys) freeBlock(this.arenaHost, words[at + this.keyRefAt + lane] as number); // NULL_BLOCK (reclaimed): nothing
        if (!tomb && this.refValues) freeBlock(this.arenaHost, words[at + this.valueAt + lane] as number);
      }
    }
  }

  /** A read failed validation: refresh the table if the generation moved, else back off. */
  private afterFailedRead(attempt: number): void {
    if (genOf(Atomics.load(this.words, H_EPOCH)) !== this.gen) this.refreshTable();
    else if (this.views.bytes.length < this.allocatedBytes()) this.refreshViews(); // a block beyond the view
    else this.pause(attempt, 'a bucket lock (read)');
  }

  /** The current generation, with the cached table refreshed to it. */
  private currentGen(): number {
    const gen = genOf(Atomics.load(this.words, H_EPOCH));
    if (gen !== this.gen) this.refreshTable();
    return this.gen;
  }

  /**
   * Load the current generation's table descriptor, consistently: the
   * descriptor of generation g is only rewritten while allocating g+2, so
   * reading the epoch before and after brackets a valid descriptor.
   */
  private refreshTable(): void {
    for (;;) {
      const gen = genOf(Atomics.load(this.words, H_EPOCH));
      const info = readTableInfo(this.words, gen);
      if (genOf(Atomics.load(this.words, H_EPOCH)) !== gen) continue;
      if (!viewCovers(this.words, info)) this.refreshViews();
      if (!viewCovers(this.words, info)) continue;
      this.table = info;
      this.tableFirst = info.first;
      this.tableBuckets = info.buckets;
      this.tableBase = info.base;
      this.gen = gen;
      return;
    }
  }

  /**
   * Get V8 11.3 to compile the JS-to-wasm wrappers of the entry points this
   * map calls on every operation now, not at their 1000th call (wasm/warm-up.ts).
   * The arguments touch nothing: a probe of word 0 with generation -1 answers
   * RETRY; a put before this thread has a writer record answers PUT_SLOW.
   */
  private warmUpWasm(): void {
    const NO_GEN = -1; // no table has it: every probe answers RETRY, every put SLOW, before they touch a lane
    const WARM_UP_BUCKETS = 1; // the probes' table: the bucket at word 0 (the header), read only
    const lanes = this.lanes;
    const r = this.wasm;
    const w = this.wput;
    if (this.fastDelStr) {
      if (this.refValues) warmUp(() => r.findStr(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, WARM_UP_BUCKETS, lanes, NO_GEN));
      else if (this.isFloat) warmUp(() => r.getStrF64(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, WARM_UP_BUCKETS, NO_GEN));
      else warmUp(() => r.getStrI32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, WARM_UP_BUCKETS, NO_GEN));
      warmUp(() => w.deleteStr(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, lanes, 0, 0, NO_GEN, 0));
      // deleteStr (15 i32 parameters), putStrI32 (16) and putStrF64 (an f64 value) have three signatures.
      if (this.fastPutStr && this.isFloat) warmUp(() => w.putStrF64(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NO_GEN, 0, NULL_BLOCK));
      else if (this.fastPutStr) warmUp(() => w.putStrI32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NO_GEN, 0, NULL_BLOCK));
    }
    if (!this.fastPut) return; // the other kinds call wasm only in migrations
    if (this.isFloat) {
      warmUp(() => r.getF64(0, 0, 0, WARM_UP_BUCKETS, NO_GEN));
      warmUp(() => w.putF64(0, 0, 0, 0, 0, NO_GEN, 0));
    } else {
      warmUp(() => r.getI32(0, 0, 0, WARM_UP_BUCKETS, NO_GEN));
      warmUp(() => w.putI32(0, 0, 0, 0, 0, NO_GEN, 0));
    }
  }

  private makeMigrationHost(): MigrationHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const map = this;
    const hashMode = this.strKeys ? COPY_HASH_STORED : COPY_HASH_MURMUR3_INT;
    const arenaBlocks = this.strKeys || this.refValues;
    return {
      memory: this.memory,
      g: this.g,
      initialBuckets: Atomics.load(this.words, H_INITIAL_BUCKETS),
      arenaBlocks,
      get writerRecord() {
        return map.writerRec;
      },
      get recordTag() {
        return map.recTag;
      },
      pause: (attempt, what) => map.pause(attempt, what),
      words: () => map.words,
      refreshWords: () => map.refreshViews(),
      // Column 0 of a lane: the HASH (string keys) or the key (int32 keys).
      hashAt: this.strKeys
        ? (words, at, lane) => words[at + B_LANES + lane] as number
        : this.murmurInline
          ? (words, at, lane) => fmix32((words[at + B_LANES + lane] as number) ^ map.murmurSeed)
          : (words, at, lane) => map.hasher.hashInt(words[at + B_LANES + lane] as number),
      copyRange:
        this.strKeys || this.murmurInline
          ? (old, next, first, end) => map.wput.copyBuckets(old.first, first, end, next.first, next.buckets, next.base, hashMode)
          : undefined,
      copyStoppedAt: () => map.wput.stoppedAt(),
      releaseRetired: arenaBlocks ? (words, old, clear) => map.releaseRetired(words, old, clear) : undefined,
    };
  }

  private makeRecoveryHost(): RecoveryHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const map = this;
    return {
      g: this.g,
      refreshWords: () => map.refreshViews(),
      helpMigration: () => {
        map.beginWrite();
        const epoch = Atomics.load(map.words, H_EPOCH);
        if (phaseOf(epoch) === PHASE_COPYING) helpCopy(map.migrationHost, epoch);
      },
    };
  }

  private makeArenaHost(): ArenaHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const map = this;
    return {
      memory: this.memory,
      words: () => map.words,
      refreshWords: () => map.refreshViews(),
      pause: (attempt, what) => map.pause(attempt, what),
    };
  }

  /**
   * Make new views when they end before the allocator's top (H_ALLOC_TOP:
   * every table region and arena block lies below it); returns the word view.
   * Not `memory.buffer.byteLength`: this thread's buffer can still be the
   * shorter one from before another thread's grow (memory.ts), and
   * `bufferCovering` refreshes it then.
   */
  private refreshViews(): Int32Array {
    const allocated = this.allocatedBytes();
    if (this.views.bytes.length < allocated) {
      this.views = makeViews(this.memory.bufferCovering(allocated));
      this.words = this.views.words;
    }
    return this.words;
  }

  /** Bytes below the allocator's top: a lower bound of the memory's length that holds in every thread. */
  private allocatedBytes(): number {
    return Atomics.load(this.words, H_ALLOC_TOP) * INT_BYTES;
  }

  private makeIterationHost(): BucketIterationHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const map = this;
    const keyAt = B_LANES; // column 0: the key (int32 keys) or the HASH (string keys)
    return {
      g: this.g,
      snapshot: () => {
        map.refreshViews();
        map.currentGen();
        return { words: map.words, gen: map.gen, table: map.table };
      },
      hashAt: this.strKeys
        ? (words, at, lane) => Atomics.load(words, at + keyAt + lane)
        : (words, at, lane) => map.hasher.hashInt(Atomics.load(words, at + keyAt + lane)),
      readKey: this.strKeys
        ? (words, at, lane) => readBlockString(map.views, Atomics.load(words, at + map.keyRefAt + lane), MAX_KEY_BYTES)
        : (words, at, lane) => Atomics.load(words, at + keyAt + lane),
      readValue: (words, at, lane) => {
        if (map.refValues) return map.readLaneValue(words, at, lane);
        const v = at + map.valueAt + lane;
        return map.isFloat ? readFloat64Atomic(words, v, v + map.lanes) : Atomics.load(words, v);
      },
      finishValue: (raw) => (map.refValues ? map.finishValue(raw) : raw),
    };
  }

  /** What the bucket write steps (bucket-write.ts) need from this instance: read through getters, since views and the writer record change. */
  private makeWriteHost(): BucketWriteHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const map = this;
    return {
      get words() {
        return map.words;
      },
      g: this.g,
      get rec() {
        return map.writerRec;
      },
      get tag() {
        return map.recTag;
      },
      pause: (attempt, what) => map.pause(attempt, what),
      budgetExhausted: (epoch) => startMigration(map.migrationHost, epoch, false),
    };
  }
}

/** This thread's id (threadId + 1 names it in shared words; the main thread is 0). */
import { threadId as currentThreadId } from 'node:worker_threads';

const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);
function readFloat64Atomic(words: Int32Array, low: number, high: number): number {
  f64Words[0] = Atomics.load(words, low);
  f64Words[1] = Atomics.load(words, high);
  return f64[0] as number;
}

// ---------------------------------------------------------------- options and header

interface ParsedOptions {
  keys: KeyKind;
  values: ValueKind;
  capacity: number;
  maxBytes: number;
  hasher: Hasher;
  waitTimeoutMs: number;
}

/** What a thread needs to open a map: made by `createMap` for a new map, by `attach` for an existing one. */
interface OpenedMap {
  memory: WasmSharedMemory;
  views: Views;
  keys: KeyKind;
  values: ValueKind;
  hasher: Hasher;
  waitTimeoutMs: number;
}

/**
 * The map `SharedFlatMap.attach` is opening, for the constructor it calls
 * next; the constructor takes it and clears it first. JS runs one constructor
 * at a time per thread, and nothing runs between the two.
 */
let attaching: OpenedMap | undefined;

/**
 * A new map: parse the options, size and create the memory, write the header
 * and table 0, and publish them with the first epoch store.
 */
function createMap(options: SharedFlatMapOptions): OpenedMap {
  const parsed = parseOptions(options);
  const laneWords = laneInts(parsed.keys, parsed.values);
  const lanes = bucketGeometry(parsed.keys, parsed.values).lanes;
  // The fewest buckets that hold `capacity` entries at the maximum load (the default 64 as well).
  const buckets = bucketsFor(parsed.capacity, lanes);
  const tableInts = tableRegionInts(buckets);
  const initialBytes = (FIXED_INTS + tableInts) * INT_BYTES;
  if (initialBytes > parsed.maxBytes) {
    throw new FlatshareRangeError(
      ErrorCode.OPTIONS,
      `maxBytes ${parsed.maxBytes} is too small for capacity ${parsed.capacity}: the first table alone needs ${initialBytes} bytes`,
    );
  }
  const memory = createSharedMemory(initialBytes, parsed.maxBytes);
  const views = makeViews(memory.buffer);
  const words = views.words;
  writeHeader(words, parsed, laneWords, buckets);
  const base = FIXED_INTS;
  Atomics.store(words, H_ALLOC_TOP, base + tableInts);
  writeTableInfo(words, 0, base, buckets);
  initTableHeader(words, base, 0, insertBudget(buckets, lanes));
  // Publishes the header and table 0 to any thread that attaches later.
  Atomics.store(words, H_EPOCH, makeEpoch(0, PHASE_STABLE));
  return { memory, views, keys: parsed.keys, values: parsed.values, hasher: parsed.hasher, waitTimeoutMs: parsed.waitTimeoutMs };
}

function parseWaitTimeout(value: unknown, what: string): number {
  if (value === undefined) return DEFAULT_WAIT_TIMEOUT_MS;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new FlatshareRangeError(ErrorCode.OPTIONS, `${what} must be a number >= 0 (Infinity allowed); got ${describe(value)}`);
  }
  return value;
}

function parseOptions(options: unknown): ParsedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new FlatshareTypeError(ErrorCode.OPTIONS, `options must be an object; got ${describe(options)}`);
  }
  const o = options as SharedFlatMapOptions;
  const keys = o.keys ?? 'string';
  const values = o.values ?? 'json';
  if (!KEY_KINDS.includes(keys)) {
    throw new FlatshareTypeError(ErrorCode.OPTIONS, `options.keys must be one of ${KEY_KINDS.join(', ')}; got ${describe(keys)}`);
  }
  if (!VALUE_KINDS.includes(values)) {
    throw new FlatshareTypeError(
      ErrorCode.OPTIONS,
      `options.values must be one of ${VALUE_KINDS.join(', ')}; got ${describe(values)}`,
    );
  }
  const capacity = o.capacity ?? DEFAULT_CAPACITY;
  const most = insertBudget(MAX_BUCKETS, bucketGeometry(keys as KeyKind, values as ValueKind).lanes);
  if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 0 || most < capacity) {
    throw new FlatshareRangeError(
      ErrorCode.OPTIONS,
      `options.capacity must be an integer in [0, ${most}]; got ${describe(capacity)}`,
    );
  }
  const maxBytes = o.maxBytes ?? DEFAULT_MAX_BYTES;
  if (typeof maxBytes !== 'number' || !Number.isInteger(maxBytes) || maxBytes <= 0 || maxBytes > MAX_BYTES_LIMIT) {
    throw new FlatshareRangeError(
      ErrorCode.OPTIONS,
      `options.maxBytes must be an integer in [1, ${MAX_BYTES_LIMIT}]; got ${describe(maxBytes)}`,
    );
  }
  const hasher = o.hasher === undefined ? hashers.default : validateHasher(o.hasher, 'options.hasher');
  if (utf8.encode(hasher.id).length > HASHER_ID_MAX_BYTES) {
    throw new FlatshareRangeError(ErrorCode.OPTIONS, `options.hasher.id must be at most ${HASHER_ID_MAX_BYTES} UTF-8 bytes`);
  }
  const waitTimeoutMs = parseWaitTimeout(o.waitTimeoutMs, 'options.waitTimeoutMs');
  return {
    keys: keys as KeyKind,
    values: values as ValueKind,
    capacity,
    maxBytes: maxBytes - (maxBytes % INT_BYTES),
    hasher,
    waitTimeoutMs,
  };
}

function writeHeader(words: Int32Array, o: ParsedOptions, laneWords: number, buckets: number): void {
  Atomics.store(words, H_MAGIC, MAGIC);
  Atomics.store(words, H_LAYOUT_VERSION, LAYOUT_VERSION);
  Atomics.store(words, H_KEY_KIND, KeyKindCode[o.keys]);
  Atomics.store(words, H_VALUE_KIND, ValueKindCode[o.values]);
  Atomics.store(words, H_LANE_INTS, laneWords);
  Atomics.store(words, H_MAX_INTS, o.maxBytes / INT_BYTES);
  Atomics.store(words, H_INITIAL_BUCKETS, buckets);
  Atomics.store(words, H_HASHER_SEED, o.hasher.seed | 0);
  const id = utf8.encode(o.hasher.id);
  Atomics.store(words, H_HASHER_ID_BYTES, id.length);
  new Uint8Array(words.buffer, H_HASHER_ID * INT_BYTES, id.length).set(id);
  for (let i = 0; i < MAP_ID_INTS; i++) Atomics.store(words, H_MAP_ID + i, Math.floor(Math.random() * RANDOM_ID_RANGE));
}

function readHasherId(words: Int32Array): string {
  const length = Math.min(Atomics.load(words, H_HASHER_ID_BYTES), HASHER_ID_MAX_BYTES);
  // Copy out of shared memory before decoding.
  return utf8Decoder.decode(new Uint8Array(words.buffer, H_HASHER_ID * INT_BYTES, length).slice());
}

function readMapId(words: Int32Array): string {
  let id = '';
  for (let i = 0; i < MAP_ID_INTS; i++) id += `${Atomics.load(words, H_MAP_ID + i)}.`;
  return id;
}

function keyKindName(code: number): KeyKind {
  for (const [name, value] of Object.entries(KeyKindCode)) if (value === code) return name as KeyKind;
  throw new FlatshareRangeError(ErrorCode.HANDLE, `the map's key kind code ${code} is not known to this build`);
}

function valueKindName(code: number): ValueKind {
  for (const [name, value] of Object.entries(ValueKindCode)) if (value === code) return name as ValueKind;
  throw new FlatshareRangeError(ErrorCode.HANDLE, `the map's value kind code ${code} is not known to this build`);
}

function validateHandle(handle: unknown): { memory: WasmSharedMemory; views: Views } {
  const h = handle as Partial<SharedFlatMapHandle> | null;
  if (typeof h !== 'object' || h === null || wasmApi === undefined || !(h.memory instanceof wasmApi.Memory)) {
    throw new FlatshareTypeError(
      ErrorCode.HANDLE,
      `attach expects a SharedFlatMap handle ({ memory: WebAssembly.Memory, ... }); got ${describe(handle)}`,
    );
  }
  const buffer = h.memory.buffer;
  if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < FIXED_INTS * INT_BYTES) {
    throw new FlatshareTypeError(ErrorCode.HANDLE, 'attach: the handle memory is not a flatshare map (wrong size or not shared)');
  }
  const views = makeViews(buffer);
  const words = views.words;
  if (Atomics.load(words, H_MAGIC) !== MAGIC) {
    throw new FlatshareTypeError(ErrorCode.HANDLE, 'attach: the handle memory is not a flatshare map (bad magic number)');
  }
  const version = Atomics.load(words, H_LAYOUT_VERSION);
  if (version !== LAYOUT_VERSION) {
    throw new FlatshareRangeError(
      ErrorCode.LAYOUT_VERSION,
      `attach: the map has layout version ${version}, this build of flatshare reads version ${LAYOUT_VERSION}`,
    );
  }
  const maxBytes = Atomics.load(words, H_MAX_INTS) * INT_BYTES;
  return { memory: new WasmSharedMemory(h.memory, maxBytes), views };
}
