/**
 * SharedFlatMap: a hash map in a SharedArrayBuffer that every thread of the
 * process can read and write directly.
 *
 * Per-thread state: each thread's instance caches an explicit-length Int32Array
 * view of the buffer and the descriptor (base, capacity) of the table
 * generation it last saw. Readers validate that generation after every lookup
 * and refresh the cache when it moved (epoch.ts); writers announce it.
 *
 * Operations and their protocols:
 * - get / has: optimistic seqlock read, no shared write, no lock (seqlock.ts).
 * - set / delete / getOrSet / add / compareAndSet: lock the key's slot (or the
 *   first EMPTY slot of its probe sequence) by CAS, re-check the epoch, write,
 *   release with one store (seqlock.ts). Inserts into EMPTY slots first take
 *   one unit of the table's insert budget; when none is left, the writer
 *   starts a migration (migration.ts) and retries in the new table.
 * - clear: a migration to an empty table, atomic for readers.
 * - iteration: weakly consistent, cluster by cluster in hash order (iterator.ts).
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
  H_INITIAL_CAPACITY,
  H_KEY_KIND,
  H_LAYOUT_VERSION,
  H_MAGIC,
  H_MAP_ID,
  H_MAX_INTS,
  H_SLOT_INTS,
  H_VALUE_KIND,
  HASHER_ID_MAX_BYTES,
  INT_BYTES,
  KeyKindCode,
  LAYOUT_VERSION,
  MAGIC,
  MAP_ID_INTS,
  MAX_BYTES_LIMIT,
  MAX_CAPACITY,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  NULL_BLOCK,
  S_HASH,
  S_KEY,
  S_KEY_REF,
  T_REMAINING,
  T_SIZE,
  ValueKindCode,
  W_ACTIVE_GEN,
  capacityFor,
  grownCapacityFor,
  insertBudget,
  isRefValue,
  slotInts,
  tableRegionInts,
  valueOffset,
  type KeyKind,
  type ValueKind,
} from './layout.js';
import { EMPTY, FULL, LOCKED, ORDERED_PLAIN_LOADS, STATE_MASK, TOMBSTONE, loadWord, lockWord, released, storeWord } from './seqlock.js';
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
  blockEqualsPacked,
  blockEqualsString,
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
import { checkFloat64Value, checkInt32Key, checkInt32Value, readFloat64, sameValueZero, writeFloat64 } from './codecs.js';
import { hashers, rebuildHasher, validateHasher, type Hasher } from './hashers/index.js';
import { fmix32, isBuiltInMurmur3, murmur3StringPacked } from './hashers/murmur3.js';
import { LATIN1_MAX_UNIT, LITTLE_ENDIAN, PACKED_KEY_MAX_UNITS, PackedKey, packLatin1 } from './strings.js';
import { createSharedMemory, WasmSharedMemory } from './memory.js';
import { wasmApi, type SharedWasmMemory } from './wasm/api.js';
import { ADD_SLOW_RESULT, DEL_DELETED, DEL_SLOW, PUT_NEED_BLOCK, PUT_SLOW, PUT_STORED_BLOCK, instantiateWritePath, type WasmWritePath, HASH_MURMUR3_INT, HASH_STORED } from './wasm/write-path.js';
import { warmUp } from './wasm/warm-up.js';
import { takeCallSite } from './wasm/call-sites.js';
import { FIND_MISS, KEY_MAX_UNITS, instantiateStringReadPath, type WasmStringReadPath } from './wasm/read-string-path.js';
import { instantiateReadPath, READ_MISS, READ_RETRY, STATUS_HIT, STATUS_RETRY, type WasmReadPath } from './wasm/read-path.js';
import { homeSlot, readTableInfo, initTableHeader, writeTableInfo, viewCovers, type TableInfo } from './table.js';
import { claimWriterRecord, recordTag, releaseWriterRecord } from './writers.js';
import { helpCopy, helpOrWait, settledSeq, startMigration, type MigrationHost } from './migration.js';
import { SPIN_ROUNDS, backoff } from './backoff.js';
import {
  DEFAULT_WAIT_TIMEOUT_MS,
  abortLocked,
  announceLock,
  checkStall,
  clearLock,
  deleteLocked,
  putLocked,
  recoverThread,
  registerMap,
  instancesOf,
  stagedAt,
  type RecoveryHost,
  type RecoveryReport,
} from './recovery.js';
import { iterateEntries, type IterationHost } from './iterator.js';

/** Key kinds a map can be created with. */
export type KeyKindOption = 'int32' | 'string';
/** Value kinds a map can be created with. */
export type ValueKindOption = 'int32' | 'float64' | 'string' | 'bytes' | 'json';

/** Options of `new SharedFlatMap(options)`. */
export interface SharedFlatMapOptions {
  /**
   * Key kind.
   * - `'int32'`: integers in [-2^31, 2^31-1], stored inline in the slot (4 bytes).
   * - `'string'`: any string up to 64 KiB encoded (one byte per UTF-16 code
   *   unit when all are <= 0xFF, else two), in a shared arena block; the slot
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
   * entries fit without a resize: ceil(capacity / 0.8) slots (at least 16),
   * any number, not a power of two, so they fill it to 80% load. Without it
   * the first table has 128 slots; the tables a map grows into have a power
   * of two of slots, with room for twice the live entries.
   * Costs `12-16 bytes x capacity / 0.8` of shared memory up front.
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
   * slot lock or a migration held by another thread before it throws
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
  slotInts: number;
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
  /** The int32-key read path over `memory` (lib/wasm/read-path.ts), one instance per map per thread. */
  private readonly wasm: WasmReadPath;
  /** String keys hashed by the built-in murmur3 (little-endian CPUs): the string-key read path over `memory`. */
  private readonly wstr: WasmStringReadPath | undefined;
  /** The fast write paths over `memory` (lib/wasm/write-path.ts): set for int32 keys, the migration copy. */
  private readonly wput: WasmWritePath;
  /** int32 keys with int32 or float64 values: `set` tries `wput` first. */
  private readonly fastPut: boolean;
  /**
   * String keys with int32 or float64 values, built-in murmur3, little-endian:
   * `set` of a key of at most KEY_MAX_UNITS one-byte units tries `wput.putStr*` first.
   */
  private readonly fastPutStr: boolean;
  /** String keys (any value kind), built-in murmur3, little-endian: `delete` tries `wput.deleteStr` first. */
  private readonly fastDelStr: boolean;
  /**
   * int32 keys and int32 values with the built-in murmur3 hasher: `get` hashes
   * inline and makes one wasm call (measured: one flag test instead of four,
   * and the probe function held here instead of behind `wasm`, took the 100k
   * get-hit ratio from 1.11-1.15x to 1.03-1.08x Map.get; docs/design.md §4).
   */
  private readonly fastGet: boolean;
  /** `wasm.getI32`, held directly: one load less per `get`. */
  private readonly probeI32: WasmReadPath['getI32'];
  /**
   * Which copy of each hot wasm call this map uses (wasm/call-sites.ts): in `get`, `set`,
   * `delete` and `add` for int32 keys (`fastPut`), in `getByString`, `putStr` and
   * `tryDeleteStr` for string keys (`fastDelStr`); 0 for the other maps.
   */
  private readonly callSite: number;
  private gen = -1;
  private table: TableInfo = { base: 0, slots: 0, capacity: 0 };
  /** Copies of `table.slots` and `table.capacity` for the read path (refreshTable). */
  private tableSlots = 0;
  private tableCapacity = 0;
  /** Copy of `table.base` for the write path. */
  private tableBase = 0;
  /** True when the hasher is the built-in murmur3 (any seed): the read path inlines its fmix32. */
  private readonly murmurInline: boolean;
  private readonly murmurSeed: number;
  private readonly stride: number;
  private readonly valueAt: number;
  private readonly isFloat: boolean;
  /** String keys: the slot holds HASH and KEY_REF. */
  private readonly strKeys: boolean;
  /** string, bytes or json values: the slot holds the index of an arena block. */
  private readonly refValues: boolean;
  private readonly mapId: string;
  private writerRec = -1;
  /** Tag of `writerRec` (writers.ts `recordTag`): goes into lock words. */
  private recTag = 0;
  /** Seq word value before the lock taken by the last `lockSlot`. */
  private lockedSeq = 0;
  /** When the current wait passed its spin phase (Date.now()). */
  private waitSince = 0;
  private readonly waitTimeoutMs: number;
  private readonly recoveryHost: RecoveryHost;
  /** Key block allocated for the EMPTY slot locked by the last `lockSlotStr`; NULL_BLOCK otherwise. */
  private lockedKeyRef = NULL_BLOCK;
  /**
   * The table's epoch, T_SIZE and T_REMAINING when a reclaimTombstoneKeys scan
   * in this thread last freed nothing and skipped no slot that a writer held
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
  private readonly iterationHost: IterationHost;

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
    this.wasm = instantiateReadPath(memory.memory);
    this.views = views;
    this.words = words;
    this.keyKind = keys;
    this.valueKind = values;
    this.hasher = hasher;
    this.murmurInline = isBuiltInMurmur3(hasher);
    this.murmurSeed = hasher.seed | 0;
    this.stride = slotInts(keys, values); // what writeHeader recorded in H_SLOT_INTS; attach checked it
    this.valueAt = valueOffset(keys);
    this.isFloat = values === 'float64';
    this.strKeys = keys === 'string';
    this.refValues = isRefValue(values);
    this.wput = instantiateWritePath(memory.memory, this.stride, !ORDERED_PLAIN_LOADS, this.murmurSeed);
    this.wstr = this.strKeys && this.murmurInline && LITTLE_ENDIAN ? instantiateStringReadPath(memory.memory) : undefined;
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
    // The slot size follows from the kinds; the wasm probes assume it (lib/wasm/read-path.ts).
    const recordedSlotInts = Atomics.load(words, H_SLOT_INTS);
    const expectedSlotInts = slotInts(keys, values);
    if (recordedSlotInts !== expectedSlotInts) {
      throw new FlatshareTypeError(
        ErrorCode.HANDLE,
        `attach: the handle memory is not a flatshare map (its header says ${recordedSlotInts} words per slot; ` +
          `${keys} keys with ${values} values take ${expectedSlotInts})`,
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
      // int32 keys and values, built-in murmur3: one wasm call (lib/wasm/read-path.ts)
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
          ? this.probeI32(k, hash, this.tableSlots, this.tableCapacity, this.gen)
          : site === 1
            ? this.probeI32(k, hash, this.tableSlots, this.tableCapacity, this.gen)
            : site === 2
              ? this.probeI32(k, hash, this.tableSlots, this.tableCapacity, this.gen)
              : this.probeI32(k, hash, this.tableSlots, this.tableCapacity, this.gen);
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
    const r = this.probeI32(k, hash, this.tableSlots, this.tableCapacity, this.gen);
    if (r < READ_MISS) return r as V;
    if (r === READ_MISS) return undefined;
    return this.getInt32Retry(k, hash) as V | undefined;
  }

  /**
   * The int32-key read after a READ_RETRY: refresh the cached table if the
   * generation moved (or back off while a writer holds the slot), then probe
   * again. Kept out of `get` so that `get` stays small enough to inline.
   */
  private getInt32Retry(k: number, hash: number): number | undefined {
    for (let attempt = 0; ; attempt++) {
      this.afterFailedRead(attempt);
      const r = this.wasm.getI32(k, hash, this.tableSlots, this.tableCapacity, this.gen);
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
          ? wasm.getF64(k, hash, this.tableSlots, this.tableCapacity, this.gen)
          : site === 1
            ? wasm.getF64(k, hash, this.tableSlots, this.tableCapacity, this.gen)
            : site === 2
              ? wasm.getF64(k, hash, this.tableSlots, this.tableCapacity, this.gen)
              : wasm.getF64(k, hash, this.tableSlots, this.tableCapacity, this.gen);
      if (status === STATUS_HIT) return wasm.lastF64();
      if (status !== STATUS_RETRY) return undefined;
      this.afterFailedRead(attempt);
    }
  }

  /**
   * The int32-key read for arena values (string, bytes, json): the value word
   * is a block index, decoded inside the window (bounds-checked) and, for
   * json, parsed only after validation.
   */
  private getInt32Ref(k: number, hash: number): unknown {
    for (let attempt = 0; ; attempt++) {
      const words = this.words;
      const gen = this.gen;
      const slots = this.tableSlots;
      const capacity = this.tableCapacity;
      const stride = this.stride;
      let slot = homeSlot(hash, capacity);
      for (let probes = 0; probes < capacity; probes++) {
        const at = slots + slot * stride;
        const s1 = loadWord(words, at);
        if ((s1 & LOCKED) !== 0) break;
        const state = s1 & STATE_MASK;
        if (state !== EMPTY && loadWord(words, at + S_KEY) !== k) {
          if (++slot === capacity) slot = 0;
          continue;
        }
        let value: unknown;
        if (state === FULL) value = this.readSlotValue(words, at);
        if (genOf(loadWord(words, H_EPOCH)) === gen && Atomics.load(words, at) === s1) {
          if (value !== TORN) return this.finishValue(value);
          this.checkViewsBehind(); // the value block lies past this thread's views: refresh them and retry
        }
        break;
      }
      this.afterFailedRead(attempt);
    }
  }

  /**
   * `get` for string keys: probe by the stored full hash, then compare the key
   * block with the key. A key block is immutable while its table is current,
   * so a non-matching slot is skipped without validation, as for int32 keys.
   * (The one exception, a tombstone whose key block is reclaimed, changes only
   * a slot that holds no live key: skipping it is right either way;
   * reclaimTombstoneKeys.)
   *
   * Keys of at most PACKED_KEY_MAX_UNITS units, all <= 0xFF (on a
   * little-endian CPU), are packed into 32-bit words once per call, in the
   * same pass as the hash for the built-in murmur3 (`murmur3StringPacked`),
   * and compared with the block one word per 4 units (`blockEqualsPacked`).
   * Other keys are compared unit by unit (`blockEqualsString`).
   *
   * With the built-in murmur3, a packed key of at most KEY_MAX_UNITS units is
   * looked up by one WebAssembly call first (wasm/read-string-path.ts); a
   * RETRY from it, and every other key, runs the JS loop.
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
    const ws = this.wstr;
    if (packed && n <= KEY_MAX_UNITS && ws !== undefined) {
      const w = packedKey.words;
      const header = (n << BLOCK_TAG_BITS) | TAG_LATIN1;
      const slots = this.tableSlots;
      const capacity = this.tableCapacity;
      const stride = this.stride;
      const gen = this.gen;
      // One copy of each call per site, as in `get` (wasm/call-sites.ts): the string maps of a
      // thread take the sites of their own family.
      const site = this.callSite;
      if (this.refValues) {
        const at =
          site === 0
            ? ws.findStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, slots, capacity, stride, gen)
            : site === 1
              ? ws.findStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, slots, capacity, stride, gen)
              : site === 2
                ? ws.findStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, slots, capacity, stride, gen)
                : ws.findStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, slots, capacity, stride, gen);
        if (at === FIND_MISS) return undefined;
        if (at > 0) {
          // The key is in slot `at` (FULL or TOMBSTONE) as of s1: read the value block, then validate.
          const words = this.words;
          const s1 = ws.lastSeq();
          const value = (s1 & STATE_MASK) === FULL ? this.readSlotValue(words, at) : undefined;
          if (value !== TORN && genOf(loadWord(words, H_EPOCH)) === gen && Atomics.load(words, at) === s1) {
            return this.finishValue(value) as V | undefined;
          }
        }
      } else if (this.isFloat) {
        const status =
          site === 0
            ? ws.getStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, slots, capacity, stride, gen)
            : site === 1
              ? ws.getStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, slots, capacity, stride, gen)
              : site === 2
                ? ws.getStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, slots, capacity, stride, gen)
                : ws.getStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, slots, capacity, stride, gen);
        if (status === STATUS_HIT) return ws.lastF64() as V;
        if (status !== STATUS_RETRY) return undefined;
      } else {
        const r =
          site === 0
            ? ws.getStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, slots, capacity, stride, gen)
            : site === 1
              ? ws.getStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, slots, capacity, stride, gen)
              : site === 2
                ? ws.getStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, slots, capacity, stride, gen)
                : ws.getStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, slots, capacity, stride, gen);
        if (r < READ_MISS) return r as V;
        if (r === READ_MISS) return undefined;
      }
    }
    for (let attempt = 0; ; attempt++) {
      const words = this.words;
      const gen = this.gen;
      const slots = this.tableSlots;
      const capacity = this.tableCapacity;
      const stride = this.stride;
      let slot = homeSlot(hash, capacity);
      for (let probes = 0; probes < capacity; probes++) {
        const at = slots + slot * stride;
        const s1 = loadWord(words, at);
        if ((s1 & LOCKED) !== 0) break;
        const state = s1 & STATE_MASK;
        let value: unknown;
        if (state !== EMPTY) {
          if (loadWord(words, at + S_HASH) !== hash) {
            if (++slot === capacity) slot = 0;
            continue;
          }
          const block = loadWord(words, at + S_KEY_REF);
          const same = packed ? blockEqualsPacked(words, block, packedKey, n) : blockEqualsString(this.views, block, k, MAX_KEY_BYTES);
          if (same === 0) {
            if (++slot === capacity) slot = 0;
            continue;
          }
          if (same < 0) break; // torn key block, or one beyond this thread's view: retry
          if (state === FULL) value = this.readSlotValue(words, at);
        }
        if (genOf(loadWord(words, H_EPOCH)) === gen && Atomics.load(words, at) === s1) {
          if (!this.refValues) return value as V | undefined;
          if (value !== TORN) return this.finishValue(value) as V | undefined;
          this.checkViewsBehind(); // the value block lies past this thread's views: refresh them and retry
        }
        break;
      }
      this.afterFailedRead(attempt);
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
      // unless it has to wait for something (lib/wasm/write-path.ts).
      const k = key as unknown as number;
      const v = value as unknown as number;
      if (typeof k === 'number' && (k | 0) === k && typeof v === 'number' && (this.isFloat || (v | 0) === v)) {
        const hash = this.murmurInline ? fmix32(k ^ this.murmurSeed) : this.hasher.hashInt(k);
        const w = this.wput;
        const site = this.callSite; // one copy of the int32 put per call site, as in `get` (wasm/call-sites.ts)
        // putF64 has one site: its copies made every int32 overwrite ~2.4 ns slower (39.1-40.5 ->
        // 41.5-41.6 ns, suite child at 100k, pinned, 3 alternating pairs), more than they save.
        const r = this.isFloat
          ? w.putF64(k, hash, v, this.tableSlots, this.tableCapacity, this.gen, this.tableBase)
          : site === 0
            ? w.putI32(k, hash, v, this.tableSlots, this.tableCapacity, this.gen, this.tableBase)
            : site === 1
              ? w.putI32(k, hash, v, this.tableSlots, this.tableCapacity, this.gen, this.tableBase)
              : site === 2
                ? w.putI32(k, hash, v, this.tableSlots, this.tableCapacity, this.gen, this.tableBase)
                : w.putI32(k, hash, v, this.tableSlots, this.tableCapacity, this.gen, this.tableBase);
        if (r !== PUT_SLOW) return this;
        return this.setSlow(key, value, hash); // the hasher is called once per set
      }
    } else if (this.fastPutStr && this.trySetStr(key, value)) {
      return this;
    }
    return this.setSlow(key, value, undefined);
  }

  /**
   * `set` of a string key through the wasm put (lib/wasm/write-path.ts): true
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
        ? put.putStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableSlots, this.tableCapacity, this.gen, this.tableBase, keyRef)
        : site === 1
          ? put.putStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableSlots, this.tableCapacity, this.gen, this.tableBase, keyRef)
          : site === 2
            ? put.putStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableSlots, this.tableCapacity, this.gen, this.tableBase, keyRef)
            : put.putStrF64(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableSlots, this.tableCapacity, this.gen, this.tableBase, keyRef);
    }
    return site === 0
      ? put.putStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableSlots, this.tableCapacity, this.gen, this.tableBase, keyRef)
      : site === 1
        ? put.putStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableSlots, this.tableCapacity, this.gen, this.tableBase, keyRef)
        : site === 2
          ? put.putStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableSlots, this.tableCapacity, this.gen, this.tableBase, keyRef)
          : put.putStrI32(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, v, this.tableSlots, this.tableCapacity, this.gen, this.tableBase, keyRef);
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
      // One wasm call unless something has to be waited for (lib/wasm/write-path.ts).
      const k = key as unknown as number;
      if (typeof k === 'number' && (k | 0) === k) {
        const hash = this.murmurInline ? fmix32(k ^ this.murmurSeed) : this.hasher.hashInt(k);
        const w = this.wput;
        const site = this.callSite; // one copy per call site, as in `get` (wasm/call-sites.ts)
        const r =
          site === 0
            ? w.deleteI32(k, hash, 0, this.tableSlots, this.tableCapacity, this.gen, this.tableBase)
            : site === 1
              ? w.deleteI32(k, hash, 0, this.tableSlots, this.tableCapacity, this.gen, this.tableBase)
              : site === 2
                ? w.deleteI32(k, hash, 0, this.tableSlots, this.tableCapacity, this.gen, this.tableBase)
                : w.deleteI32(k, hash, 0, this.tableSlots, this.tableCapacity, this.gen, this.tableBase);
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
        ? put.deleteStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, 0, this.tableSlots, this.tableCapacity, this.gen, this.tableBase, NULL_BLOCK)
        : site === 1
          ? put.deleteStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, 0, this.tableSlots, this.tableCapacity, this.gen, this.tableBase, NULL_BLOCK)
          : site === 2
            ? put.deleteStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, 0, this.tableSlots, this.tableCapacity, this.gen, this.tableBase, NULL_BLOCK)
            : put.deleteStr(hash, header, w[0]!, w[1]!, w[2]!, w[3]!, w[4]!, w[5]!, w[6]!, w[7]!, 0, this.tableSlots, this.tableCapacity, this.gen, this.tableBase, NULL_BLOCK);
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
      const seq = this.lockedSeq;
      if ((seq & STATE_MASK) !== FULL) return false; // a tombstone: aborted in finally
      const old = this.refValues ? (this.words[at + this.valueAt] as number) : NULL_BLOCK;
      // Publishes the deletion; the key stays (TOMBSTONE), the value block is unlinked.
      deleteLocked(this.words, this.writerRec, at, seq, this.table.base);
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
      if ((this.lockedSeq & STATE_MASK) === FULL) return this.readLockedValue(at) as V; // aborted in finally
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
      // wait for something or would overflow (lib/wasm/write-path.ts addI32).
      const k = key as unknown as number;
      if (typeof k === 'number' && (k | 0) === k && typeof delta === 'number' && (delta | 0) === delta) {
        const hash = this.murmurInline ? fmix32(k ^ this.murmurSeed) : this.hasher.hashInt(k);
        const w = this.wput;
        const site = this.callSite; // one copy per call site, as in `get` (wasm/call-sites.ts)
        const r =
          site === 0
            ? w.addI32(k, hash, delta, this.tableSlots, this.tableCapacity, this.gen, this.tableBase)
            : site === 1
              ? w.addI32(k, hash, delta, this.tableSlots, this.tableCapacity, this.gen, this.tableBase)
              : site === 2
                ? w.addI32(k, hash, delta, this.tableSlots, this.tableCapacity, this.gen, this.tableBase)
                : w.addI32(k, hash, delta, this.tableSlots, this.tableCapacity, this.gen, this.tableBase);
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
      const current = (this.lockedSeq & STATE_MASK) === FULL ? (this.readLockedValue(at) as number) : 0;
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
      const isFull = (this.lockedSeq & STATE_MASK) === FULL;
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
    for (const [k, v] of iterateEntries(this.iterationHost)) yield [k as K, v as V];
  }

  /** Keys, weakly consistent (see `entries`). */
  *keys(): IterableIterator<K> {
    for (const [k] of iterateEntries(this.iterationHost)) yield k as K;
  }

  /** Values, weakly consistent (see `entries`). */
  *values(): IterableIterator<V> {
    for (const [, v] of iterateEntries(this.iterationHost)) yield v as V;
  }

  /** Same as `entries()`. */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  /** Call `callback(value, key, map)` for each entry, weakly consistent (see `entries`). */
  forEach(callback: (value: V, key: K, map: this) => void, thisArg?: unknown): void {
    for (const [k, v] of iterateEntries(this.iterationHost)) callback.call(thisArg, v as V, k as K, this);
  }

  get [Symbol.toStringTag](): string {
    return 'SharedFlatMap';
  }

  /**
   * Repair what thread `threadId` left in the map when it died inside an
   * operation: slot locks (its half-done write is completed from the intent in
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
      slotInts: map.stride,
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

  /** Lock the slot of the prepared key (see lockSlot / lockSlotStr). */
  private lock(insert: boolean): number {
    return this.strKeys ? this.lockSlotStr(insert) : this.lockSlot(this.opInt, this.opHash, insert);
  }

  /**
   * Read the value words of slot `at` inside a read window (unvalidated):
   * the number, or for arena values the decoded string / bytes copy / json
   * text, or TORN.
   */
  private readSlotValue(words: Int32Array, at: number): unknown {
    if (!this.refValues) return this.isFloat ? readFloat64(words, at + this.valueAt) : loadWord(words, at + this.valueAt);
    const block = loadWord(words, at + this.valueAt);
    return this.valueKind === 'bytes'
      ? readBlockBytes(this.views, block, MAX_VALUE_BYTES)
      : readBlockString(this.views, block, MAX_VALUE_BYTES);
  }

  /**
   * A validated slot whose value block read TORN. That is expected when another
   * thread grew the memory and allocated the block past the end of this
   * thread's views (the caller then retries: afterFailedRead refreshes them);
   * with views that reach the allocator's top it is a bug, and throws. (Not
   * compared with `memory.buffer.byteLength`, which can be stale: memory.ts.)
   */
  private checkViewsBehind(): void {
    if (this.views.bytes.length >= this.allocatedBytes()) {
      throw new Error('flatshare internal error: a validated slot references an invalid arena block');
    }
  }

  /** The user's value from a validated raw read (json: parse the text). */
  private finishValue(raw: unknown): unknown {
    if (raw === TORN) throw new Error('flatshare internal error: a validated slot references an invalid arena block');
    return this.valueKind === 'json' && raw !== undefined ? JSON.parse(raw as string) : raw;
  }

  /** The value of the slot this thread holds locked (FULL). */
  private readLockedValue(at: number): unknown {
    this.refreshViews();
    return this.finishValue(this.readSlotValue(this.words, at));
  }

  /**
   * Write the prepared key (if the slot was EMPTY) and the value word(s) into
   * the locked slot at `at` and release it as FULL. `v` is the number, or the
   * index of the value's arena block. Returns the value block the slot
   * referenced before (to be freed by the caller now that it is unlinked), or
   * NULL_BLOCK.
   */
  private writeEntry(at: number, v: number): number {
    const words = this.words;
    const rec = this.writerRec;
    const seq = this.lockedSeq;
    const state = seq & STATE_MASK;
    // Stage the slot's whole new payload in the writer record (recovery.ts), then
    // commit and apply it: a thread killed half-way is rolled forward.
    if (this.strKeys) {
      words[stagedAt(rec, S_HASH)] = this.opHash;
      words[stagedAt(rec, S_KEY_REF)] = state === EMPTY ? this.lockedKeyRef : (words[at + S_KEY_REF] as number);
    } else {
      words[stagedAt(rec, S_KEY)] = this.opInt;
    }
    let old = NULL_BLOCK;
    if (this.refValues) {
      if (state === FULL) old = words[at + this.valueAt] as number;
      words[stagedAt(rec, this.valueAt)] = v;
    } else if (this.isFloat) {
      writeFloat64(words, stagedAt(rec, this.valueAt), v);
    } else {
      words[stagedAt(rec, this.valueAt)] = v;
    }
    // Publishes the key, the value (and the blocks they reference) and the FULL state together.
    putLocked(words, rec, at, this.stride, seq, this.table.base, !ORDERED_PLAIN_LOADS);
    this.lockedKeyRef = NULL_BLOCK;
    return old;
  }

  /**
   * Release a lock without changing anything; gives back an EMPTY slot's
   * insert budget and the key block allocated for it.
   */
  private abortLock(at: number): void {
    const seq = this.lockedSeq;
    if ((seq & STATE_MASK) === EMPTY) Atomics.add(this.words, this.table.base + T_REMAINING, 1);
    abortLocked(this.words, this.writerRec, at, seq);
    if (this.lockedKeyRef !== NULL_BLOCK) {
      const block = this.lockedKeyRef;
      this.lockedKeyRef = NULL_BLOCK;
      freeBlock(this.arenaHost, block);
    }
  }

  /**
   * `lockSlot` for string keys (the key in opText / opKey, its hash in
   * opHash): slots are matched by HASH, then by comparing the key block. On
   * taking an EMPTY slot for an insert, the key block is allocated and filled
   * under the lock (its index in `lockedKeyRef`), so a key that is already
   * present costs no allocation. If that allocation fails the slot is
   * restored and the error propagates: nothing changed. Exception: when it
   * fails with ERR_FLATSHARE_FULL and the table holds tombstones (whose key
   * blocks are otherwise only freed when a migration drops them), the writer
   * rehashes once to free those blocks and retries; when the rehash finds no
   * room for its new table, it frees them in place instead
   * (`reclaimTombstoneKeys`) and retries once.
   */
  private lockSlotStr(insert: boolean): number {
    const hash = this.opHash;
    const text = this.opText;
    let reclaimed = false;
    let rehashed = false;
    for (;;) {
      const epoch = this.enterGeneration();
      const words = this.words;
      const table = this.table;
      const stride = this.stride;
      const capacity = table.capacity;
      const rec = this.writerRec;
      let slot = homeSlot(hash, capacity);
      let attempt = 0;
      probe: for (;;) {
        const at = table.slots + slot * stride;
        const seq = loadWord(words, at); // plain on x86, validated by the lock CAS (see lockSlot)
        if ((seq & LOCKED) !== 0) {
          this.pause(attempt++, 'a slot lock');
          if (Atomics.load(words, H_EPOCH) !== epoch) break probe;
          continue;
        }
        const state = seq & STATE_MASK;
        if (state !== EMPTY) {
          if (words[at + S_HASH] !== hash) {
            if (++slot === capacity) slot = 0;
            continue;
          }
          const ref = words[at + S_KEY_REF] as number;
          const same = this.opPacked
            ? blockEqualsPacked(words, ref, packedKey, text.length)
            : blockEqualsString(this.views, ref, text, MAX_KEY_BYTES);
          if (same < 0) {
            // The key block lies beyond this thread's view: it was allocated after the
            // buffer grew. Refresh the views and start over: `words` above is the old
            // view, and probing on with it would find the block beyond it forever.
            this.refreshViews();
            break probe;
          }
          if (same === 0) {
            if (++slot === capacity) slot = 0;
            continue;
          }
        } else if (!insert) {
          if (genOf(Atomics.load(words, H_EPOCH)) === genOf(epoch)) return -1;
          break probe;
        }
        const outcome = this.tryLock(words, table, at, seq, epoch);
        if (outcome === LOCK_LOST) continue;
        if (outcome === LOCK_RESTART) break probe;
        if (state === EMPTY) {
          try {
            const key = this.opKey as Prepared;
            const block = allocateBlock(this.arenaHost, key.byteLength, key.tag);
            if (this.opPacked) writeBlockPacked(this.words, block, packedKey, key.text.length);
            else writeBlockString(this.views, block, key.text, key.tag);
            this.lockedKeyRef = block;
          } catch (error) {
            Atomics.add(words, table.base + T_REMAINING, 1);
            abortLocked(words, rec, at, seq);
            const used = insertBudget(table.capacity) - Atomics.load(words, table.base + T_REMAINING);
            const tombstones = used - Atomics.load(words, table.base + T_SIZE) > 0;
            if (!tombstones || (error as { code?: string }).code !== ErrorCode.FULL) throw error;
            // Tombstones still hold key blocks. A rehash frees them (releaseRetired) and the
            // tombstones' slots too; then retry once.
            if (!rehashed) {
              rehashed = true;
              if (this.tryRehash(epoch)) break probe;
            }
            // No room for a new table (a map at its maxBytes): free the blocks in place, which
            // needs no room, and retry once.
            if (reclaimed) throw error;
            reclaimed = true;
            if (this.reclaimTombstoneKeys(epoch) > 0) break probe;
            throw error;
          }
        }
        this.lockedSeq = seq;
        return at;
      }
    }
  }

  /**
   * Find and lock the slot of `k` in the current table. With `insert`, an
   * absent key gets the first EMPTY slot of its probe sequence, locked, with
   * one unit of insert budget taken (starting a migration when there is none).
   * Returns the seq word index of the locked slot (its pre-lock value is in
   * `lockedSeq`), or -1 when `k` is absent and `insert` is false.
   */
  private lockSlot(k: number, hash: number, insert: boolean): number {
    for (;;) {
      const epoch = this.enterGeneration();
      const words = this.words;
      const table = this.table;
      const stride = this.stride;
      const capacity = table.capacity;
      let slot = homeSlot(hash, capacity);
      let attempt = 0;
      probe: for (;;) {
        const at = table.slots + slot * stride;
        // A plain load on x86: the lock CAS below validates it (a stale word
        // makes the CAS fail and the slot is read again).
        const seq = loadWord(words, at);
        if ((seq & LOCKED) !== 0) {
          this.pause(attempt++, 'a slot lock');
          if (Atomics.load(words, H_EPOCH) !== epoch) break probe;
          continue;
        }
        const state = seq & STATE_MASK;
        if (state !== EMPTY) {
          if (words[at + S_KEY] !== k) {
            if (++slot === capacity) slot = 0;
            continue;
          }
        } else if (!insert) {
          // Absent, provided table g was still current when we saw EMPTY.
          if (genOf(Atomics.load(words, H_EPOCH)) === genOf(epoch)) return -1;
          break probe;
        }
        const outcome = this.tryLock(words, table, at, seq, epoch);
        if (outcome === LOCK_LOST) continue;
        if (outcome === LOCK_RESTART) break probe;
        this.lockedSeq = seq;
        return at;
      }
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
   * insert whose key block did not fit (lockSlotStr). Returns how many.
   *
   * Each one: lock the TOMBSTONE slot as any writer does (tryLock, so a
   * migration or another writer makes it skip the slot), store NULL_BLOCK in
   * KEY_REF, release it as a TOMBSTONE with a new seq, then free the block.
   * A slot with NULL_BLOCK holds no key: every key compare (blocks.ts, the
   * wasm probes) treats it as "no match" and steps past it, so the probe
   * chains it is part of stay intact, and a later insert of its old key takes
   * an EMPTY slot instead of reviving it.
   *
   * Readers: one that read the old KEY_REF may compare its key with the freed
   * (maybe reused) block. "No match" is right, because the slot is a
   * tombstone; "match" is followed by its seq validation, which the new seq
   * fails. One that read NULL_BLOCK steps past. Writers CAS from the seq they
   * read, so they fail the same way.
   *
   * A thread that dies holding such a lock has committed no intent, so
   * recovery restores the old seq; KEY_REF may be NULL_BLOCK already, and the
   * block, not yet freed, leaks (as a dead writer's blocks do: docs/design.md §9).
   */
  private reclaimTombstoneKeys(epoch: number): number {
    const words = this.words;
    const table = this.table;
    const stride = this.stride;
    const size = Atomics.load(words, table.base + T_SIZE);
    const remaining = Atomics.load(words, table.base + T_REMAINING);
    const [barrenEpoch, barrenSize, barrenRemaining] = this.barrenReclaim;
    // The memo: the last scan of this table freed nothing and skipped no held slot, so
    // every tombstone then had NULL_BLOCK, and such a tombstone matches no key, so it is
    // never revived. A tombstone with a block since then needs a delete since then, and
    // each delete lowers SIZE. Only revivals raise SIZE again without taking an EMPTY slot
    // (which would lower REMAINING), and a revival needs a tombstone with a block, i.e. one
    // of those deletes: with SIZE and REMAINING unchanged, every tombstone made since has
    // been revived, and there is still nothing to free.
    if (epoch === barrenEpoch && size === barrenSize && remaining === barrenRemaining) return 0;
    let freed = 0;
    // Slots a writer held while the scan passed, with a key block: a delete in progress
    // releases one as a tombstone with its block, maybe after SIZE was read above.
    let skipped = 0;
    for (let i = 0; i < table.capacity; i++) {
      const at = table.slots + i * stride;
      const seq = Atomics.load(words, at);
      if ((seq & LOCKED) !== 0) {
        if (Atomics.load(words, at + S_KEY_REF) !== NULL_BLOCK) skipped++;
        continue;
      }
      if ((seq & STATE_MASK) !== TOMBSTONE) continue;
      const block = Atomics.load(words, at + S_KEY_REF);
      if (block === NULL_BLOCK) continue;
      const outcome = this.tryLock(words, table, at, seq, epoch);
      if (outcome === LOCK_RESTART) break; // the epoch moved: a migration frees them
      if (outcome !== LOCK_TAKEN) {
        skipped++; // another writer took it first (LOCK_LOST)
        continue;
      }
      Atomics.store(words, at + S_KEY_REF, NULL_BLOCK);
      // The new seq makes every reader and writer that read the old KEY_REF fail validation.
      Atomics.store(words, at, released(seq, TOMBSTONE));
      clearLock(words, this.writerRec);
      freeBlock(this.arenaHost, block);
      freed++;
    }
    if (freed === 0 && skipped === 0) this.barrenReclaim = [epoch, size, remaining];
    return freed;
  }

  /**
   * Try to lock the slot at `at` of `table` (generation of the STABLE `epoch`),
   * whose unlocked seq word was `seq`. Shared by both key kinds' lock paths.
   * - The lock intent goes into this thread's writer record first; the CAS
   *   publishes it, and the locked word names this record (recovery.ts).
   * - After the CAS the epoch is checked again: if a migration began, table g
   *   is read-only, so the slot is restored unchanged (LOCK_RESTART).
   * - Locking an EMPTY slot takes one unit of the table's insert budget; with
   *   none left the slot is restored and a migration started (LOCK_RESTART).
   * Returns LOCK_TAKEN (the slot is ours), LOCK_LOST (the CAS lost: look at
   * the slot again) or LOCK_RESTART (start over from enterGeneration).
   */
  private tryLock(words: Int32Array, table: TableInfo, at: number, seq: number, epoch: number): number {
    const rec = this.writerRec;
    announceLock(words, rec, at, seq);
    if (Atomics.compareExchange(words, at, seq, lockWord(this.recTag, seq)) !== seq) {
      clearLock(words, rec); // no stale lock intent may outlive a failed attempt (recovery.ts)
      return LOCK_LOST;
    }
    // After the locked CAS (a full fence on x86) a plain load on x86 reads the
    // epoch as of the CAS or later: the argument of docs/design.md §3 holds.
    if (loadWord(words, H_EPOCH) !== epoch) {
      abortLocked(words, rec, at, seq);
      return LOCK_RESTART;
    }
    if ((seq & STATE_MASK) === EMPTY && Atomics.sub(words, table.base + T_REMAINING, 1) <= 0) {
      Atomics.add(words, table.base + T_REMAINING, 1);
      abortLocked(words, rec, at, seq);
      startMigration(this.migrationHost, epoch, false);
      return LOCK_RESTART;
    }
    return LOCK_TAKEN;
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
   * End a write operation: if a slot is still locked (`lockedAt >= 0`, because
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
    const stride = this.stride;
    for (let i = 0; i < old.capacity; i++) {
      const at = old.slots + i * stride;
      const seq = settledSeq(words, at, (attempt, what) => this.pause(attempt, what));
      if (seq === undefined) continue; // held by a thread that died: its blocks leak
      const state = seq & STATE_MASK;
      if (state === EMPTY || (state === FULL && !clear)) continue;
      if (this.strKeys) freeBlock(this.arenaHost, words[at + S_KEY_REF] as number);
      if (state === FULL && this.refValues) freeBlock(this.arenaHost, words[at + this.valueAt] as number);
    }
  }

  /** A read failed validation: refresh the table if the generation moved, else back off. */
  private afterFailedRead(attempt: number): void {
    if (genOf(Atomics.load(this.words, H_EPOCH)) !== this.gen) this.refreshTable();
    else if (this.views.bytes.length < this.allocatedBytes()) this.refreshViews(); // a block beyond the view
    else this.pause(attempt, 'a slot lock (read)');
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
      if (!viewCovers(this.words, info, this.stride)) this.refreshViews();
      if (!viewCovers(this.words, info, this.stride)) continue;
      this.table = info;
      this.tableSlots = info.slots;
      this.tableCapacity = info.capacity;
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
    const NO_GEN = -1; // no table has it: every probe answers RETRY before it reads a slot's key
    const WARM_UP_CAPACITY = 2; // the int32 probes' table: 2 slots from word 0
    const stride = this.stride;
    const ws = this.wstr;
    if (ws !== undefined) {
      if (this.refValues) warmUp(() => ws.findStr(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, stride, NO_GEN));
      else if (this.isFloat) warmUp(() => ws.getStrF64(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, stride, NO_GEN));
      else warmUp(() => ws.getStrI32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, stride, NO_GEN));
    }
    if (this.fastDelStr) {
      // putStrI32 and deleteStr share a signature (one wrapper); putStrF64 has its own.
      const w = this.wput;
      warmUp(() => w.deleteStr(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NO_GEN, 0, NULL_BLOCK));
      if (this.fastPutStr && this.isFloat) warmUp(() => w.putStrF64(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NO_GEN, 0, NULL_BLOCK));
    }
    if (!this.fastPut) return; // the other kinds call wasm only in migrations
    const r = this.wasm;
    const w = this.wput;
    if (this.isFloat) {
      warmUp(() => r.getF64(0, 0, 0, WARM_UP_CAPACITY, NO_GEN));
      warmUp(() => w.putF64(0, 0, 0, 0, 0, NO_GEN, 0));
    } else {
      warmUp(() => r.getI32(0, 0, 0, WARM_UP_CAPACITY, NO_GEN));
      warmUp(() => w.putI32(0, 0, 0, 0, 0, NO_GEN, 0));
    }
  }

  private makeMigrationHost(): MigrationHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const map = this;
    const hashMode = this.strKeys ? HASH_STORED : HASH_MURMUR3_INT;
    const arenaBlocks = this.strKeys || this.refValues;
    return {
      memory: this.memory,
      slotInts: this.stride,
      initialCapacity: Atomics.load(this.words, H_INITIAL_CAPACITY),
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
      hashAt: this.strKeys
        ? (words, at) => words[at + S_HASH] as number
        : this.murmurInline
          ? (words, at) => fmix32((words[at + S_KEY] as number) ^ map.murmurSeed)
          : (words, at) => map.hasher.hashInt(words[at + S_KEY] as number),
      copyRange:
        this.strKeys || this.murmurInline
          ? (old, next, first, end) =>
              map.wput.copyRange(old.slots, first, end, next.slots, next.capacity, next.base, hashMode)
          : undefined,
      copyStoppedAt: () => map.wput.stoppedAt(),
      releaseRetired: arenaBlocks ? (words, old, clear) => map.releaseRetired(words, old, clear) : undefined,
    };
  }

  private makeRecoveryHost(): RecoveryHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const map = this;
    return {
      slotInts: this.stride,
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

  private makeIterationHost(): IterationHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const map = this;
    return {
      slotInts: this.stride,
      snapshot: () => {
        map.refreshViews();
        map.currentGen();
        return { words: map.words, gen: map.gen, table: map.table };
      },
      hashAt: this.strKeys
        ? (words, at) => Atomics.load(words, at + S_HASH)
        : (words, at) => map.hasher.hashInt(Atomics.load(words, at + S_KEY)),
      readKey: this.strKeys
        ? (words, at) => readBlockString(map.views, Atomics.load(words, at + S_KEY_REF), MAX_KEY_BYTES)
        : (words, at) => Atomics.load(words, at + S_KEY),
      readValue: (words, at) => {
        if (map.refValues) return map.readSlotValue(words, at);
        return map.isFloat ? readFloat64Atomic(words, at + map.valueAt) : Atomics.load(words, at + map.valueAt);
      },
      finishValue: (raw) => (map.refValues ? map.finishValue(raw) : raw),
    };
  }
}

/** This thread's id (threadId + 1 names it in shared words; the main thread is 0). */
import { threadId as currentThreadId } from 'node:worker_threads';

/** Outcomes of SharedFlatMap.tryLock. */
const LOCK_TAKEN = 0; // the slot is locked by this thread
const LOCK_LOST = 1; // another thread changed the seq word first: look at the slot again
const LOCK_RESTART = 2; // the epoch moved or a migration was started: start over

const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);
function readFloat64Atomic(words: Int32Array, index: number): number {
  f64Words[0] = Atomics.load(words, index);
  f64Words[1] = Atomics.load(words, index + 1);
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
  const slotWords = slotInts(parsed.keys, parsed.values);
  // Presized: exactly capacity / 0.8 slots; the default: a power of two, like the tables it grows into.
  const capacity = options.capacity === undefined ? grownCapacityFor(parsed.capacity) : capacityFor(parsed.capacity);
  const tableInts = tableRegionInts(capacity, slotWords);
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
  writeHeader(words, parsed, slotWords, capacity);
  const base = FIXED_INTS;
  Atomics.store(words, H_ALLOC_TOP, base + tableInts);
  writeTableInfo(words, 0, base, capacity);
  initTableHeader(words, base, 0, insertBudget(capacity));
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
  if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 0 || insertBudget(MAX_CAPACITY) < capacity) {
    throw new FlatshareRangeError(
      ErrorCode.OPTIONS,
      `options.capacity must be an integer in [0, ${insertBudget(MAX_CAPACITY)}]; got ${describe(capacity)}`,
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

function writeHeader(words: Int32Array, o: ParsedOptions, slotWords: number, capacity: number): void {
  Atomics.store(words, H_MAGIC, MAGIC);
  Atomics.store(words, H_LAYOUT_VERSION, LAYOUT_VERSION);
  Atomics.store(words, H_KEY_KIND, KeyKindCode[o.keys]);
  Atomics.store(words, H_VALUE_KIND, ValueKindCode[o.values]);
  Atomics.store(words, H_SLOT_INTS, slotWords);
  Atomics.store(words, H_MAX_INTS, o.maxBytes / INT_BYTES);
  Atomics.store(words, H_INITIAL_CAPACITY, capacity);
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
