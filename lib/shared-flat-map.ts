/**
 * SharedFlatMap: a hash map in a SharedArrayBuffer that every thread of the
 * process can read and write directly.
 *
 * Per-thread state: each thread's instance caches an explicit-length Int32Array
 * view of the buffer and the descriptor (base, capacity, shift) of the table
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
  DEFAULT_MAX_BYTES,
  FIXED_INTS,
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
  S_KEY,
  T_REMAINING,
  T_SIZE,
  ValueKindCode,
  W_ACTIVE_GEN,
  capacityFor,
  insertBudget,
  slotInts,
  tableRegionInts,
  valueOffset,
  type KeyKind,
  type ValueKind,
} from './layout.js';
import { EMPTY, FULL, LOCKED, ORDERED_PLAIN_LOADS, STATE_MASK, loadWord, lockWord } from './seqlock.js';
import { PHASE_STABLE, genOf, makeEpoch, phaseOf } from './epoch.js';
import {
  ErrorCode,
  FlatshareRangeError,
  FlatshareTypeError,
  FlatshareUnsupportedError,
  describe,
} from './errors.js';
import { checkFloat64Value, checkInt32Key, checkInt32Value, readFloat64, sameValueZero, writeFloat64 } from './codecs.js';
import { hashers, rebuildHasher, validateHasher, type Hasher } from './hashers/index.js';
import { createGrowableBuffer, viewWords, type GrowableSharedArrayBuffer } from './memory.js';
import { readTableInfo, initTableHeader, writeTableInfo, viewCovers, type TableInfo } from './table.js';
import { claimWriterRecord, recordTag, releaseWriterRecord } from './writers.js';
import { helpCopy, helpOrWait, startMigration, type MigrationHost } from './migration.js';
import { SPIN_ROUNDS, backoff } from './backoff.js';
import {
  DEFAULT_WAIT_TIMEOUT_MS,
  abortLocked,
  announceLock,
  checkStall,
  deleteLocked,
  putLocked,
  recoverThread,
  registerMap,
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
   * Key kind. `'int32'`: integers in [-2^31, 2^31-1], stored inline.
   * `'string'` is the documented default but is not implemented in this
   * release: pass `keys: 'int32'`.
   * @defaultValue `'string'`
   */
  keys?: KeyKindOption;
  /**
   * Value kind. `'int32'` (4 bytes inline) or `'float64'` (8 bytes inline).
   * `'string'`, `'bytes'` and `'json'` are not implemented in this release.
   * @defaultValue `'json'`
   */
  values?: ValueKindOption;
  /**
   * Expected number of entries. Sizes the first table so that this many
   * entries fit without a resize (power-of-two slots at <= 80% load).
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
  readonly buffer: SharedArrayBuffer;
  readonly keys: KeyKindOption;
  readonly values: ValueKindOption;
  readonly hasherId: string;
}

/** Result of `trySet`: `'ok'`, or `'full'` when maxBytes would be exceeded. */
export type TrySetStatus = 'ok' | 'full';

const KEY_KINDS: readonly KeyKindOption[] = ['int32', 'string'];
const VALUE_KINDS: readonly ValueKindOption[] = ['int32', 'float64', 'string', 'bytes', 'json'];
const IMPLEMENTED_KEYS: readonly KeyKind[] = ['int32'];
const IMPLEMENTED_VALUES: readonly ValueKind[] = ['int32', 'float64'];
/** Attempts of a read before it starts to back off (sleep) on a locked slot. */
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();
const RANDOM_ID_RANGE = 2 ** 31;

/** Internal state exposed to white-box tests only. */
export interface SharedFlatMapInternals {
  words: Int32Array;
  buffer: SharedArrayBuffer;
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
export class SharedFlatMap<K = number, V = number> implements Iterable<[K, V]> {
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
  private readonly buffer: GrowableSharedArrayBuffer;
  private gen = -1;
  private table: TableInfo = { base: 0, slots: 0, capacity: 0, shift: 0 };
  private readonly stride: number;
  private readonly valueAt: number;
  private readonly isFloat: boolean;
  private readonly mapId: string;
  private writerRec = -1;
  /** Tag of `writerRec` (writers.ts `recordTag`): goes into lock words. */
  private recTag = 0;
  /** Seq word value before the lock taken by the last `lockSlot`. */
  private lockedSeq = 0;
  /** When the current wait passed its spin phase (Date.now()). */
  private waitSince = 0;
  private readonly waitTimeoutMs: number;
  private readonly migrationHost: MigrationHost;
  private readonly recoveryHost: RecoveryHost;
  private readonly iterationHost: IterationHost;

  /**
   * Create a new map in a fresh SharedArrayBuffer.
   * @throws FlatshareTypeError / FlatshareRangeError with code `ERR_FLATSHARE_OPTIONS` for bad options,
   *   `ERR_FLATSHARE_UNSUPPORTED` for kinds not implemented yet.
   */
  constructor(options: SharedFlatMapOptions = {}) {
    const parsed = parseOptions(options);
    const slotWords = slotInts(parsed.keys, parsed.values);
    const capacity = capacityFor(parsed.capacity);
    const tableInts = tableRegionInts(capacity, slotWords);
    const initialBytes = (FIXED_INTS + tableInts) * INT_BYTES;
    if (initialBytes > parsed.maxBytes) {
      throw new FlatshareRangeError(
        ErrorCode.OPTIONS,
        `maxBytes ${parsed.maxBytes} is too small for capacity ${parsed.capacity}: the first table alone needs ${initialBytes} bytes`,
      );
    }
    const buffer = createGrowableBuffer(initialBytes, parsed.maxBytes);
    const words = viewWords(buffer);
    writeHeader(words, parsed, slotWords, capacity);
    const base = FIXED_INTS;
    Atomics.store(words, H_ALLOC_TOP_WORD, base + tableInts);
    writeTableInfo(words, 0, base, capacity);
    initTableHeader(words, base, 0, insertBudget(capacity));
    // Publishes the header and table 0 to any thread that attaches later.
    Atomics.store(words, H_EPOCH, makeEpoch(0, PHASE_STABLE));
    const handle: SharedFlatMapHandle = {
      flatshare: LAYOUT_VERSION,
      buffer,
      keys: parsed.keys,
      values: parsed.values,
      hasherId: parsed.hasher.id,
    };
    this.handle = handle;
    this.buffer = buffer;
    this.words = words;
    this.keyKind = parsed.keys;
    this.valueKind = parsed.values;
    this.hasher = parsed.hasher;
    this.stride = slotWords;
    this.valueAt = valueOffset(parsed.keys);
    this.isFloat = parsed.values === 'float64';
    this.mapId = readMapId(words);
    this.waitTimeoutMs = parsed.waitTimeoutMs;
    this.migrationHost = this.makeMigrationHost();
    this.iterationHost = this.makeIterationHost();
    this.recoveryHost = this.makeRecoveryHost();
    this.refreshTable();
    registerMap(this.mapId, this);
  }

  /**
   * Attach to a map created in another thread (or this one) from its handle.
   * Checks the magic number, the layout version, the kinds and the hasher id.
   * @throws FlatshareTypeError `ERR_FLATSHARE_HANDLE` for something that is not a handle,
   *   FlatshareRangeError `ERR_FLATSHARE_LAYOUT_VERSION` for another layout version,
   *   FlatshareRangeError `ERR_FLATSHARE_HASHER` when the hasher is missing or has another id.
   */
  static attach<K = number, V = number>(handle: SharedFlatMapHandle, options: AttachOptions = {}): SharedFlatMap<K, V> {
    const { buffer, words } = validateHandle(handle);
    const keys = keyKindName(Atomics.load(words, H_KEY_KIND));
    const values = valueKindName(Atomics.load(words, H_VALUE_KIND));
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
    const map = Object.create(SharedFlatMap.prototype) as SharedFlatMap<K, V>;
    map.initAttached(buffer, words, keys, values, hasher, waitTimeoutMs);
    return map;
  }

  private initAttached(
    buffer: GrowableSharedArrayBuffer,
    words: Int32Array,
    keys: KeyKind,
    values: ValueKind,
    hasher: Hasher,
    waitTimeoutMs: number,
  ): void {
    const self = this as unknown as Record<string, unknown>;
    self.handle = { flatshare: LAYOUT_VERSION, buffer, keys, values, hasherId: hasher.id };
    self.buffer = buffer;
    self.words = words;
    self.keyKind = keys;
    self.valueKind = values;
    self.hasher = hasher;
    self.stride = Atomics.load(words, H_SLOT_INTS);
    self.valueAt = valueOffset(keys);
    self.isFloat = values === 'float64';
    self.mapId = readMapId(words);
    self.gen = -1;
    self.table = { base: 0, slots: 0, capacity: 0, shift: 0 };
    self.writerRec = -1;
    self.recTag = 0;
    self.lockedSeq = 0;
    self.waitSince = 0;
    self.waitTimeoutMs = waitTimeoutMs;
    self.migrationHost = this.makeMigrationHost();
    self.iterationHost = this.makeIterationHost();
    self.recoveryHost = this.makeRecoveryHost();
    this.refreshTable();
    registerMap(this.mapId, this);
  }

  // ---------------------------------------------------------------- reads

  /**
   * The value stored for `key`, or `undefined`. Lock-free; never writes
   * shared memory; linearizable.
   * @throws `ERR_FLATSHARE_KEY` if `key` is not of the map's key kind.
   */
  get(key: K): V | undefined {
    const k = checkInt32Key(key);
    const hash = this.hasher.hashInt(k);
    for (let attempt = 0; ; attempt++) {
      const words = this.words;
      const gen = this.gen;
      const table = this.table;
      const stride = this.stride;
      const mask = table.capacity - 1;
      let slot = hash >>> table.shift;
      for (let probes = 0; probes <= mask; probes++) {
        const at = table.slots + slot * stride;
        const s1 = loadWord(words, at);
        if ((s1 & LOCKED) !== 0) break;
        const state = s1 & STATE_MASK;
        if (state !== EMPTY && loadWord(words, at + S_KEY) !== k) {
          slot = (slot + 1) & mask;
          continue;
        }
        let value: number | undefined;
        if (state === FULL) value = this.isFloat ? readFloat64(words, at + this.valueAt) : loadWord(words, at + this.valueAt);
        // Validate: the table was still the current one, and the slot did not move.
        if (genOf(loadWord(words, H_EPOCH)) === gen && Atomics.load(words, at) === s1) return value as V | undefined;
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

  // ---------------------------------------------------------------- writes

  /**
   * Store `value` for `key`. Returns the map, like `Map.set`.
   * @throws `ERR_FLATSHARE_KEY` / `ERR_FLATSHARE_VALUE` for bad input, `ERR_FLATSHARE_FULL`
   *   when a needed resize exceeds maxBytes. The map is unchanged when it throws.
   */
  set(key: K, value: V): this {
    const k = checkInt32Key(key);
    const v = this.checkValue(value, 'value');
    const hash = this.hasher.hashInt(k);
    this.beginWrite();
    let at = -1;
    try {
      at = this.lockSlot(k, hash, true);
      this.writeEntry(at, k, v);
      at = -1;
    } finally {
      this.endWrite(at);
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
    const k = checkInt32Key(key);
    const hash = this.hasher.hashInt(k);
    this.beginWrite();
    let at = -1;
    try {
      at = this.lockSlot(k, hash, false);
      if (at < 0) return false;
      const seq = this.lockedSeq;
      if ((seq & STATE_MASK) !== FULL) return false; // a tombstone: aborted in finally
      deleteLocked(this.words, this.writerRec, at, seq, this.table.base);
      at = -1;
      return true;
    } finally {
      this.endWrite(at);
    }
  }

  /**
   * Return the value of `key`; if it is absent, store `value` first. Exactly
   * one of several threads racing to insert the same key wins; all of them
   * return the winner's value.
   */
  getOrSet(key: K, value: V): V {
    const present = this.get(key);
    if (present !== undefined) return present;
    const k = checkInt32Key(key);
    const v = this.checkValue(value, 'value');
    const hash = this.hasher.hashInt(k);
    this.beginWrite();
    let at = -1;
    try {
      at = this.lockSlot(k, hash, true);
      if ((this.lockedSeq & STATE_MASK) === FULL) return this.readValue(at) as V; // aborted in finally
      this.writeEntry(at, k, v);
      at = -1;
      return value;
    } finally {
      this.endWrite(at);
    }
  }

  /**
   * Atomically add `delta` to the numeric value of `key` (absent counts as 0)
   * and return the new value.
   * @throws `ERR_FLATSHARE_VALUE` (RangeError) when an int32 result would overflow; the value is unchanged.
   */
  add(key: K, delta: number): number {
    const k = checkInt32Key(key);
    const d = this.checkValue(delta, 'delta');
    const hash = this.hasher.hashInt(k);
    this.beginWrite();
    let at = -1;
    try {
      at = this.lockSlot(k, hash, true);
      const current = (this.lockedSeq & STATE_MASK) === FULL ? this.readValue(at) : 0;
      const next = current + d;
      if (!this.isFloat && (next | 0) !== next) {
        throw new FlatshareRangeError(
          ErrorCode.VALUE,
          `add(${describe(key)}, ${d}) would overflow int32: ${current} + ${d} = ${next}`,
        );
      }
      this.writeEntry(at, k, next);
      at = -1;
      return next;
    } finally {
      this.endWrite(at);
    }
  }

  /**
   * Set `key` to `next` only if its current value is `expected` (SameValueZero,
   * so NaN matches NaN). `expected === undefined` means "only if absent".
   * Returns whether it stored `next`.
   */
  compareAndSet(key: K, expected: V | undefined, next: V): boolean {
    const k = checkInt32Key(key);
    const want = expected === undefined ? undefined : this.checkValue(expected, 'expected');
    const v = this.checkValue(next, 'next');
    const hash = this.hasher.hashInt(k);
    this.beginWrite();
    let at = -1;
    try {
      at = this.lockSlot(k, hash, want === undefined);
      if (at < 0) return false;
      const isFull = (this.lockedSeq & STATE_MASK) === FULL;
      const matches = want === undefined ? !isFull : isFull && sameValueZero(this.readValue(at), want);
      if (!matches) return false; // aborted in finally
      this.writeEntry(at, k, v);
      at = -1;
      return true;
    } finally {
      this.endWrite(at);
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
   * its writer record, or undone if it had not committed one), a migration it
   * was allocating or flipping, migration chunks it had claimed, and its writer
   * record. Returns what was repaired. Idempotent.
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
   * The map stays usable; a later write claims a record again.
   */
  releaseThread(): void {
    releaseWriterRecord(this.words, this.mapId);
    this.writerRec = -1;
  }

  /**
   * @internal White-box access for flatshare's own tests. Not part of the API.
   */
  static unsafeExposeInternals(map: SharedFlatMap<unknown, unknown>): SharedFlatMapInternals {
    map.currentGen();
    return {
      words: map.words,
      buffer: map.buffer,
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

  private readValue(at: number): number {
    return this.isFloat ? readFloat64(this.words, at + this.valueAt) : loadWord(this.words, at + this.valueAt);
  }

  /**
   * Write key and value into the locked slot at `at` and release it as FULL:
   * stage the payload in the writer record, then commit and apply it
   * (recovery.ts `putLocked`), so a thread killed half-way is rolled forward.
   */
  private writeEntry(at: number, k: number, v: number): void {
    const words = this.words;
    const rec = this.writerRec;
    words[stagedAt(rec, S_KEY)] = k;
    if (this.isFloat) writeFloat64(words, stagedAt(rec, this.valueAt), v);
    else words[stagedAt(rec, this.valueAt)] = v;
    putLocked(words, rec, at, this.stride, this.lockedSeq, this.table.base, !ORDERED_PLAIN_LOADS);
  }

  /** Release a lock without changing anything; gives back an EMPTY slot's insert budget. */
  private abortLock(at: number): void {
    const seq = this.lockedSeq;
    if ((seq & STATE_MASK) === EMPTY) Atomics.add(this.words, this.table.base + T_REMAINING, 1);
    abortLocked(this.words, this.writerRec, at, seq);
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
      const mask = table.capacity - 1;
      const rec = this.writerRec;
      let slot = hash >>> table.shift;
      let attempt = 0;
      probe: for (;;) {
        const at = table.slots + slot * stride;
        const seq = Atomics.load(words, at);
        if ((seq & LOCKED) !== 0) {
          this.pause(attempt++, 'a slot lock');
          if (Atomics.load(words, H_EPOCH) !== epoch) break probe;
          continue;
        }
        const state = seq & STATE_MASK;
        if (state !== EMPTY) {
          if (words[at + S_KEY] !== k) {
            slot = (slot + 1) & mask;
            continue;
          }
        } else if (!insert) {
          // Absent, provided table g was still current when we saw EMPTY.
          if (genOf(Atomics.load(words, H_EPOCH)) === genOf(epoch)) return -1;
          break probe;
        }
        // Lock intent first, published by the CAS; the lock word names its owner (recovery.ts).
        announceLock(words, rec, at, seq);
        if (Atomics.compareExchange(words, at, seq, lockWord(this.recTag, seq)) !== seq) continue;
        if (Atomics.load(words, H_EPOCH) !== epoch) {
          // A migration began: table g is read-only now. Back out unchanged.
          abortLocked(words, rec, at, seq);
          break probe;
        }
        if (state === EMPTY && Atomics.sub(words, table.base + T_REMAINING, 1) <= 0) {
          Atomics.add(words, table.base + T_REMAINING, 1);
          abortLocked(words, rec, at, seq);
          startMigration(this.migrationHost, epoch, false);
          break probe;
        }
        this.lockedSeq = seq;
        return at;
      }
    }
  }

  /**
   * Wait out any migration, make sure the cached table is generation g's,
   * announce g in this thread's writer record, and return the STABLE epoch.
   */
  private enterGeneration(): number {
    const rec = this.writerRec;
    for (;;) {
      const epoch = Atomics.load(this.words, H_EPOCH);
      if (phaseOf(epoch) !== PHASE_STABLE) {
        helpOrWait(this.migrationHost, epoch);
        continue;
      }
      if (genOf(epoch) !== this.gen) this.refreshTable();
      Atomics.store(this.words, rec + W_ACTIVE_GEN, genOf(epoch) + 1);
      if (Atomics.load(this.words, H_EPOCH) === epoch) return epoch;
    }
  }

  private beginWrite(): void {
    if (this.writerRec < 0) {
      this.writerRec = claimWriterRecord(this.words, this.mapId);
      this.recTag = recordTag(this.writerRec);
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
  private endWrite(lockedAt = -1): void {
    if (lockedAt >= 0) this.abortLock(lockedAt);
    Atomics.store(this.words, this.writerRec + W_ACTIVE_GEN, 0);
  }

  /** A read failed validation: refresh the table if the generation moved, else back off. */
  private afterFailedRead(attempt: number): void {
    if (genOf(Atomics.load(this.words, H_EPOCH)) !== this.gen) this.refreshTable();
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
      if (!viewCovers(this.words, info, this.stride)) this.words = viewWords(this.buffer);
      if (!viewCovers(this.words, info, this.stride)) continue;
      this.table = info;
      this.gen = gen;
      return;
    }
  }

  private makeMigrationHost(): MigrationHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const map = this;
    return {
      buffer: this.buffer,
      slotInts: this.stride,
      initialCapacity: Atomics.load(this.words, H_INITIAL_CAPACITY),
      get writerRecord() {
        return map.writerRec;
      },
      get recordTag() {
        return map.recTag;
      },
      pause: (attempt, what) => map.pause(attempt, what),
      words: () => map.words,
      refreshWords: () => {
        if (map.words.length * INT_BYTES < map.buffer.byteLength) map.words = viewWords(map.buffer);
        return map.words;
      },
      hashAt: (words, at) => map.hasher.hashInt(words[at + S_KEY] as number),
    };
  }

  private makeRecoveryHost(): RecoveryHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const map = this;
    return {
      slotInts: this.stride,
      refreshWords: () => {
        if (map.words.length * INT_BYTES < map.buffer.byteLength) map.words = viewWords(map.buffer);
        return map.words;
      },
      helpMigration: () => {
        map.beginWrite();
        const epoch = Atomics.load(map.words, H_EPOCH);
        if (phaseOf(epoch) !== PHASE_STABLE) helpCopy(map.migrationHost, epoch);
      },
    };
  }

  private makeIterationHost(): IterationHost {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const map = this;
    return {
      slotInts: this.stride,
      snapshot: () => {
        map.currentGen();
        return { words: map.words, gen: map.gen, table: map.table };
      },
      hashOfKey: (key) => map.hasher.hashInt(key as number),
      readKey: (words, at) => Atomics.load(words, at + S_KEY),
      readValue: (words, at) =>
        map.isFloat ? readFloat64Atomic(words, at + map.valueAt) : Atomics.load(words, at + map.valueAt),
    };
  }
}

/** This thread's id (threadId + 1 names it in shared words; the main thread is 0). */
import { threadId as currentThreadId } from 'node:worker_threads';

/** Header word H_ALLOC_TOP, imported under a local name to keep the constructor readable. */
import { H_ALLOC_TOP as H_ALLOC_TOP_WORD } from './layout.js';

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
  if (!(IMPLEMENTED_KEYS as readonly string[]).includes(keys)) {
    throw new FlatshareUnsupportedError(`keys: '${keys}' is not implemented in this release; use keys: 'int32'`);
  }
  if (!(IMPLEMENTED_VALUES as readonly string[]).includes(values)) {
    throw new FlatshareUnsupportedError(
      `values: '${values}' is not implemented in this release; use values: 'int32' or 'float64'`,
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

function validateHandle(handle: unknown): { buffer: GrowableSharedArrayBuffer; words: Int32Array } {
  const h = handle as Partial<SharedFlatMapHandle> | null;
  if (typeof h !== 'object' || h === null || !(h.buffer instanceof SharedArrayBuffer)) {
    throw new FlatshareTypeError(
      ErrorCode.HANDLE,
      `attach expects a SharedFlatMap handle ({ buffer: SharedArrayBuffer, ... }); got ${describe(handle)}`,
    );
  }
  const buffer = h.buffer as GrowableSharedArrayBuffer;
  if (!buffer.growable || buffer.byteLength < FIXED_INTS * INT_BYTES) {
    throw new FlatshareTypeError(ErrorCode.HANDLE, 'attach: the handle buffer is not a flatshare map (wrong size or not growable)');
  }
  const words = viewWords(buffer);
  if (Atomics.load(words, H_MAGIC) !== MAGIC) {
    throw new FlatshareTypeError(ErrorCode.HANDLE, 'attach: the handle buffer is not a flatshare map (bad magic number)');
  }
  const version = Atomics.load(words, H_LAYOUT_VERSION);
  if (version !== LAYOUT_VERSION) {
    throw new FlatshareRangeError(
      ErrorCode.LAYOUT_VERSION,
      `attach: the map has layout version ${version}, this build of flatshare reads version ${LAYOUT_VERSION}`,
    );
  }
  return { buffer, words };
}
