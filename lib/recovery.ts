/**
 * Crash recovery: repair what a thread that died inside an operation held.
 *
 * A `worker.terminate()` (or a fatal error in a worker) can stop a thread
 * between any two statements, and `finally` does not run. What such a thread
 * can hold, and how each is repaired:
 *
 * | held by the dead thread                  | found by                                   | repair |
 * |------------------------------------------|--------------------------------------------|--------|
 * | a bucket lock, no intent committed       | lockOwnerTag(words[LOCK_AT]) === its tag   | roll back: store LOCK_SEQ (nothing was written, except a TOMBSTONE lane's KEY_REF = NULL_BLOCK by reclaimTombstoneKeys: it stays, matches no key, and the block leaks) |
 * | a bucket lock with INTENT_PUT / _COPY    | same, W_INTENT                             | roll forward (bucket-write.ts finishBucketLock): rewrite the lane from INTENT_PAYLOAD, redo the META bit, SIZE + 1 unless INTENT_SIZED, it was FULL or a copy; release |
 * | a bucket lock with INTENT_DELETE         | same                                       | roll forward: redo the TOMBSTONE bit, SIZE - 1 unless INTENT_SIZED, release |
 * | the migration control in ALLOCATING      | H_MIG_OWNER === its tag                    | roll back to STABLE(g); rebuild the free list (memory.ts rebuildFreeList) with the region it announced (ALLOC_PENDING) given back |
 * | the migration control while flipping     | H_MIG_OWNER === its tag, phase COPYING     | all chunks done: finish the flip, the old region retired into the rebuilt free list; else just release |
 * | a claimed, unfinished migration chunk    | CHUNK_CLAIMED | its tag in the chunk words | unclaim; any helper redoes it (copying is idempotent) |
 * | its writer record                        | W_OWNER === threadId + 1                   | reset and free it |
 *
 * Write protocol with intent: intent.ts and bucket-write.ts ("A put, step
 * by step"). Every step after the commit is idempotent (lane words rewritten
 * from the record, META changed by one atomic OR / AND), so recovery redoes
 * them all. The key ends holding its old value (rolled back, or the lock was
 * never taken) or its new value (rolled forward, or released): never a mix,
 * since readers only accept a bucket between two equal even SEQ values and
 * recovery publishes with the same release store as the writer.
 *
 * Who is dead: only a thread KNOWN to be dead is repaired, never one that is
 * merely slow, and nothing is time-based:
 * - automatically: the thread that creates a Worker sees `process.on('worker')`
 *   and then the worker's `'exit'` event, which fires after the thread has
 *   stopped. It recovers that threadId in every map attached or created in
 *   this thread (a registry of WeakRefs keyed by map id; a FinalizationRegistry
 *   drops the entry of an instance that was collected).
 * - explicitly: `map.recover(threadId)`, for setups where the creator of the
 *   worker has no map (or is another process's business).
 * Recovery marks the record DEAD first; a thread that waits on a lock (after
 * spinning and sleeping) checks for DEAD records and finishes their repair
 * itself, so a repair interrupted half-way is completed by whoever waits.
 *
 * Waiting: no wait is unbounded. Waits spin, then sleep in short slices
 * (backoff.ts); every few slices the waiter looks for DEAD records; past the
 * instance's `waitTimeoutMs` it throws ERR_FLATSHARE_TIMEOUT having changed
 * nothing. A slow thread therefore never loses its lock: others time out.
 *
 * Not covered (documented in docs/failure-model.md):
 * - `size` can be off by one per killed writer if the kill lands between the
 *   SIZE add and the INTENT_SIZED store (two Atomics calls with no JS call in
 *   between; V8 stops a thread only at interrupt checks); the next resize
 *   recounts it exactly.
 * - an insert budget unit taken by a rolled-back insert is not given back (the
 *   next resize recomputes the budget).
 * - a thread stopped between bumping ALLOC_TOP for a table and announcing
 *   those words (a return and a call apart) leaks them;
 * - a recovery killed while it rebuilds the free list may leave regions off
 *   it (memory.ts rebuildFreeList: never a word in use, but not lossless).
 */
import { releaseClassLocksOf } from './arena.js';
import {
  CHUNK_CLAIMED,
  CHUNK_DONE,
  CHUNK_VALUE_MASK,
  H_EPOCH,
  H_MIG_OWNER,
  H_RECOVERY_LOCK,
  INTENT_NONE,
  MAX_WRITERS,
  RECORD_DEAD,
  RECORD_LIVE,
  W_ACTIVE_GEN,
  W_INTENT,
  W_LOCK_AT,
  W_OWNER,
  W_STATUS,
  chunkCount,
  chunkStatesAt,
  insertBudget,
} from './layout.js';
import { announcedAllocation, clearAnnouncedAllocation, rebuildFreeList } from './memory.js';
import { TABLE_BUCKET_INTS } from './layout.js';
import { lockOwnerTag } from './seqlock.js';
import type { BucketGeometry } from './bucket.js';
import { finishBucketLock } from './bucket-write.js';
import { PHASE_ALLOCATING, PHASE_COPYING, PHASE_STABLE, genOf, makeEpoch, phaseOf } from './epoch.js';
import { readTableInfo, initTableHeader, tableRegionOf, type TableInfo } from './table.js';
import { forgetClaimedRecord, recordTag, writerRecordAt } from './writers.js';
import { FlatshareTimeoutError } from './errors.js';
import { SPIN_ROUNDS, backoff } from './backoff.js';

// The write steps recovery undoes or completes are in intent.ts and
// bucket-write.ts; re-exported here for the callers that name them with recovery.
export { abortLocked, announceLock, clearLock, commitIntent } from './intent.js';

// ---------------------------------------------------------------- repair

/** What one `recover(threadId)` call repaired. Counts are per state, for logs and tests. */
export interface RecoveryReport {
  /** The thread whose leftovers were repaired. */
  threadId: number;
  /** Writer records that belonged to it and were freed. */
  records: number;
  /** Bucket locks released by completing the dead thread's committed intent. */
  rolledForward: number;
  /** Bucket locks released by restoring the bucket (no intent committed: nothing was written). */
  rolledBack: number;
  /** Migrations it was allocating, rolled back to STABLE. */
  allocationsRolledBack: number;
  /** Migrations it was flipping (every chunk copied), flipped by recovery. */
  flipsFinished: number;
  /** Migration control it held when nothing was half-done (released only). */
  migrationOwnershipReleased: number;
  /** Migration chunks it had claimed but not finished, handed back to the helpers. */
  chunksReleased: number;
  /** Arena free-list locks it held (a pop or push in progress), released; the list stays well formed. */
  arenaLocksReleased: number;
}

/** What recovery needs from the map instance of the recovering thread. */
export interface RecoveryHost {
  /** The map's bucket geometry (lanes, words a lane). */
  readonly g: BucketGeometry;
  /** A view of the buffer that covers every allocated word. */
  refreshWords(): Int32Array;
  /** Help an in-flight migration to its end as this thread (needs this thread's writer record). */
  helpMigration(): void;
}

function emptyReport(threadId: number): RecoveryReport {
  return {
    threadId,
    records: 0,
    rolledForward: 0,
    rolledBack: 0,
    allocationsRolledBack: 0,
    flipsFinished: 0,
    migrationOwnershipReleased: 0,
    chunksReleased: 0,
    arenaLocksReleased: 0,
  };
}

/** Every writer record owned by `threadId`. */
function recordsOf(words: Int32Array, threadId: number): number[] {
  const found: number[] = [];
  for (let n = 0; n < MAX_WRITERS; n++) {
    const rec = writerRecordAt(n);
    if (Atomics.load(words, rec + W_OWNER) === threadId + 1) found.push(rec);
  }
  return found;
}

/**
 * Take the recovery lock for this thread (`me` = threadId + 1); false when
 * another thread holds it. `deadThread` (threadId + 1 of a thread known dead,
 * or 0): a lock that thread held while it died is taken over.
 */
function lockRecovery(words: Int32Array, me: number, deadThread = 0): boolean {
  const holder = Atomics.compareExchange(words, H_RECOVERY_LOCK, 0, me);
  if (holder === 0 || holder === me) return true;
  return deadThread !== 0 && holder === deadThread && Atomics.compareExchange(words, H_RECOVERY_LOCK, holder, me) === holder;
}

/**
 * Repair everything thread `threadId` (known dead) left behind in the map,
 * then help an interrupted migration to its end. `me` is the calling thread's
 * threadId + 1. Idempotent: a second call finds nothing left to do.
 */
export function recoverThread(host: RecoveryHost, threadId: number, me: number): RecoveryReport {
  const report = emptyReport(threadId);
  let words = host.refreshWords();
  const records = recordsOf(words, threadId);
  // Mark first: waiters that see DEAD finish the repair if this thread cannot.
  for (const rec of records) Atomics.store(words, rec + W_STATUS, RECORD_DEAD);
  // Another thread may be repairing (it then repairs these too): wait for it, bounded.
  const since = Date.now();
  for (let attempt = 0; !repairDead(host, me, report, threadId + 1); attempt++) {
    backoff(attempt);
    if (Date.now() - since > DEFAULT_WAIT_TIMEOUT_MS) throw new FlatshareTimeoutError(Date.now() - since, 'the recovery lock');
  }
  words = host.refreshWords();
  // Help only a migration this thread's death interrupted (chunks handed back, control repaired);
  // a thread that exited cleanly leaves the running migration to its own helpers.
  const interrupted = report.chunksReleased + report.flipsFinished + report.allocationsRolledBack + report.migrationOwnershipReleased > 0;
  if (interrupted && phaseOf(Atomics.load(words, H_EPOCH)) === PHASE_COPYING) host.helpMigration();
  return report;
}

/**
 * Repair every record marked DEAD, under the recovery lock. Returns false when
 * another thread holds the lock (it is repairing them).
 */
export function repairDead(host: RecoveryHost, me: number, report?: RecoveryReport, deadThread = 0): boolean {
  const words = host.refreshWords();
  if (!lockRecovery(words, me, deadThread)) return false;
  try {
    for (let n = 0; n < MAX_WRITERS; n++) {
      const rec = writerRecordAt(n);
      if (Atomics.load(words, rec + W_STATUS) !== RECORD_DEAD) continue;
      repairRecord(words, host.g, rec, report ?? emptyReport(Atomics.load(words, rec + W_OWNER) - 1), () => host.refreshWords());
    }
  } finally {
    Atomics.store(words, H_RECOVERY_LOCK, 0);
  }
  Atomics.notify(words, H_EPOCH);
  return true;
}

/** True when some writer record is marked DEAD (cheap: MAX_WRITERS loads). */
export function anyDead(words: Int32Array): boolean {
  for (let n = 0; n < MAX_WRITERS; n++) if (Atomics.load(words, writerRecordAt(n) + W_STATUS) === RECORD_DEAD) return true;
  return false;
}

/**
 * Repair one dead record (see the table in the file comment) and free it. Caller holds the recovery lock.
 * `refresh` returns views that reach the allocator's top: a table that other threads allocated
 * after `words` was made (migrations go on during a repair) lies past it.
 */
export function repairRecord(
  words: Int32Array,
  g: BucketGeometry,
  rec: number,
  report: RecoveryReport,
  refresh: () => Int32Array = () => words,
): void {
  const tag = recordTag(rec);
  const at = Atomics.load(words, rec + W_LOCK_AT);
  // LOCK_AT may be stale (a lock attempt whose CAS failed, a kill before the clear): trust it only
  // when it names a SEQ word of a bucket of a live table AND that word is locked with this
  // record's tag. Without the first check a stale index into a reused region could hit a key
  // or value word that merely looks like a lock word (an int32 key 17 is lockWord(tag 2, 0)).
  if (isLiveSeqIndex(words, at, refresh)) {
    words = refresh(); // reaches `at`: it lies in a table that isLiveSeqIndex's views reached
    if (lockOwnerTag(Atomics.load(words, at)) === tag) {
      if (finishBucketLock(words, g, rec, at)) report.rolledForward++;
      else report.rolledBack++;
    }
  }
  if (Atomics.load(words, H_MIG_OWNER) === tag) repairMigrationOwner(refresh(), g, report);
  report.chunksReleased += releaseChunks(words, tag, refresh);
  // Arena class locks name their owner as threadId + 1, the record's OWNER.
  report.arenaLocksReleased += releaseClassLocksOf(words, Atomics.load(words, rec + W_OWNER));
  // Free the record; OWNER last, so nobody claims it half-reset.
  Atomics.store(words, rec + W_ACTIVE_GEN, 0);
  Atomics.store(words, rec + W_INTENT, INTENT_NONE);
  Atomics.store(words, rec + W_LOCK_AT, 0);
  Atomics.store(words, rec + W_STATUS, RECORD_LIVE);
  Atomics.store(words, rec + W_OWNER, 0);
  report.records++;
}

/**
 * True when `at` is the SEQ word of a bucket of the current table, or of the
 * new table of a running copy (copiers lock buckets there).
 */
export function isLiveSeqIndex(words: Int32Array, at: number, refresh: () => Int32Array = () => words): boolean {
  const epoch = Atomics.load(words, H_EPOCH);
  // Views made after the epoch load reach every table it names (a table is allocated before it is named).
  words = refresh();
  if (!(at > 0 && at < words.length)) return false;
  const gen = genOf(epoch);
  const tables = phaseOf(epoch) === PHASE_COPYING ? [readTableInfo(words, gen), readTableInfo(words, gen + 1)] : [readTableInfo(words, gen)];
  for (const t of tables) {
    const offset = at - t.first;
    if (offset >= 0 && offset < t.buckets * TABLE_BUCKET_INTS && offset % TABLE_BUCKET_INTS === 0) return true;
  }
  return false;
}

/** The dead record held H_MIG_OWNER: undo an allocation, finish a flip, or just let go. */
function repairMigrationOwner(words: Int32Array, g: BucketGeometry, report: RecoveryReport): void {
  const epoch = Atomics.load(words, H_EPOCH);
  const gen = genOf(epoch);
  const phase = phaseOf(epoch);
  if (phase === PHASE_ALLOCATING) {
    // It may have been editing the free list: rebuild it (memory.ts: its records list only
    // free words at every step), with the region it had taken for table g+1 given back, and
    // without table g, which a clear's flip may already have retired (a clear flips in ALLOCATING).
    const taken = announcedAllocation(words, gen + 1);
    rebuildFreeList(words, taken === undefined ? [] : [taken], [tableRegionOf(words, gen)]);
    clearAnnouncedAllocation(words);
    Atomics.store(words, H_EPOCH, makeEpoch(gen, PHASE_STABLE));
    report.allocationsRolledBack++;
  } else if (phase === PHASE_COPYING && allChunksDone(words, readTableInfo(words, gen))) {
    // It was flipping: finish it, and the old region's retirement, which it may have begun
    // or not (rebuildFreeList: the union of what the list has and that region).
    const oldRegion = tableRegionOf(words, gen);
    rebuildFreeList(words, [{ ...oldRegion, retiredAtGen: gen + 1 }], [tableRegionOf(words, gen + 1)]);
    const copied = copiedEntries(words, readTableInfo(words, gen));
    const next = readTableInfo(words, gen + 1);
    initTableHeader(words, next.base, copied, insertBudget(next.buckets, g.lanes) - copied);
    Atomics.store(words, H_EPOCH, makeEpoch(gen + 1, PHASE_STABLE));
    report.flipsFinished++;
  } else {
    report.migrationOwnershipReleased++;
  }
  Atomics.store(words, H_MIG_OWNER, 0);
  Atomics.notify(words, H_EPOCH);
}

/** Unclaim the chunks of the running migration that `tag` claimed. Returns how many. */
function releaseChunks(words: Int32Array, tag: number, refresh: () => Int32Array): number {
  const epoch = Atomics.load(words, H_EPOCH);
  if (phaseOf(epoch) !== PHASE_COPYING) return 0;
  words = refresh(); // after the epoch load: reaches the table it names and its chunk states
  const old = readTableInfo(words, genOf(epoch));
  const states = chunkStatesAt(old.base, old.buckets);
  let released = 0;
  for (let c = 0; c < chunkCount(old.buckets); c++) {
    if (Atomics.compareExchange(words, states + c, CHUNK_CLAIMED | tag, 0) === (CHUNK_CLAIMED | tag)) released++;
  }
  return released;
}

/**
 * True when every chunk of the table `old` is copied. Takes the table, not its
 * generation: once the epoch moved on, the descriptor of that generation may
 * already describe another table (g + 2 shares it).
 */
export function allChunksDone(words: Int32Array, old: TableInfo): boolean {
  const states = chunkStatesAt(old.base, old.buckets);
  for (let c = 0; c < chunkCount(old.buckets); c++) {
    if ((Atomics.load(words, states + c) & CHUNK_DONE) === 0) return false;
  }
  return true;
}

/** Entries copied out of the table `old`: the sum over its DONE chunks. */
export function copiedEntries(words: Int32Array, old: TableInfo): number {
  const states = chunkStatesAt(old.base, old.buckets);
  let copied = 0;
  for (let c = 0; c < chunkCount(old.buckets); c++) copied += Atomics.load(words, states + c) & CHUNK_VALUE_MASK;
  return copied;
}

// ---------------------------------------------------------------- waiting

/** Sleeps between two looks for DEAD records while waiting. */
export const DEAD_CHECK_EVERY = 16;
/** Default `waitTimeoutMs`: far above any legitimate wait (a lock is held for well under a microsecond). */
export const DEFAULT_WAIT_TIMEOUT_MS = 10_000;

/**
 * Called by a waiter after each backoff step past the spin phase: every
 * DEAD_CHECK_EVERY sleeps it finishes the repair of DEAD records, and past
 * `timeoutMs` since `since` it throws ERR_FLATSHARE_TIMEOUT.
 */
export function checkStall(host: RecoveryHost, me: number, attempt: number, since: number, timeoutMs: number, what: string): void {
  if ((attempt - SPIN_ROUNDS) % DEAD_CHECK_EVERY !== 0) return;
  if (anyDead(host.refreshWords())) repairDead(host, me);
  const waited = Date.now() - since;
  if (waited > timeoutMs) throw new FlatshareTimeoutError(waited, what);
}

// ---------------------------------------------------------------- automatic recovery

/** A map instance recovery can call into. */
export interface Recoverable {
  recover(threadId: number): RecoveryReport;
  /** Forget the writer record this instance cached (this thread gave it back). */
  dropWriterRecord(): void;
}

/** Map id -> instances of that map in this thread. One live instance is enough to recover a map. */
const registry = new Map<string, Set<WeakRef<Recoverable>>>();
let watching = false;

/** What `forgetCollected` needs to find a collected instance's entry (never the instance itself). */
interface RegistryEntry {
  readonly mapId: string;
  readonly ref: WeakRef<Recoverable>;
}

/**
 * Drop the entry of an instance that was garbage-collected, and once no
 * instance of its map is left in this thread, the map id and the thread's
 * cached writer record number for it (writers.ts).
 */
function forgetCollected(entry: RegistryEntry): void {
  const set = registry.get(entry.mapId);
  if (set === undefined) return;
  set.delete(entry.ref);
  if (set.size === 0) forgetMap(entry.mapId);
}

/** No instance of `mapId` is left in this thread: drop its registry entry and the thread's cached record number. */
function forgetMap(mapId: string): void {
  registry.delete(mapId);
  forgetClaimedRecord(mapId);
}

/**
 * Removes the registry entries of collected instances. Without it every map
 * ever made in a thread would leave its id, a Set and a WeakRef behind until a
 * worker exits (`recoverEverywhere` prunes too), and its cached writer record
 * number for good: a leak in a server that makes and drops maps.
 */
const collected = new FinalizationRegistry<RegistryEntry>(forgetCollected);
const listeners = new Set<(report: RecoveryReport) => void>();

/**
 * Remember `map` (weakly) so that recovery runs on it when a Worker created by
 * this thread exits; starts watching `process.on('worker')` on first use.
 */
export function registerMap(mapId: string, map: Recoverable): void {
  let set = registry.get(mapId);
  if (set === undefined) registry.set(mapId, (set = new Set()));
  // The WeakRef keeps `map` alive until the end of the current job (ECMAScript's
  // KeepDuringJob: until control returns to the event loop), so a map made and
  // dropped in one synchronous run can be collected only after it.
  const ref = new WeakRef(map);
  set.add(ref);
  collected.register(map, { mapId, ref });
  if (!watching && typeof process !== 'undefined' && typeof process.on === 'function') {
    watching = true;
    process.on('worker', (worker) => {
      // threadId reads -1 once the thread has exited: capture it now.
      const threadId = worker.threadId;
      worker.once('exit', () => recoverEverywhere(threadId));
    });
  }
}

/** The live instances of map `mapId` in this thread (every `new` and `attach` registers one). */
export function instancesOf(mapId: string): Recoverable[] {
  const live: Recoverable[] = [];
  const set = registry.get(mapId);
  if (set === undefined) return live;
  for (const ref of set) {
    const map = ref.deref();
    if (map === undefined) set.delete(ref);
    else live.push(map);
  }
  return live;
}

/**
 * Recover `threadId` in every map registered in this thread. Runs on a
 * worker's 'exit' event, which Node emits after the thread has stopped.
 */
export function recoverEverywhere(threadId: number): RecoveryReport[] {
  const reports: RecoveryReport[] = [];
  for (const mapId of registry.keys()) {
    const live = instancesOf(mapId)[0];
    if (live === undefined) {
      forgetMap(mapId);
      continue;
    }
    try {
      const report = live.recover(threadId);
      reports.push(report);
      for (const listener of listeners) listener(report);
    } catch (error) {
      // Never let recovery of one map break the process's exit handling; report it once.
      process.emitWarning(`flatshare: recovery of thread ${threadId} failed: ${String(error)}`, {
        code: 'FLATSHARE_RECOVERY_FAILED',
      });
    }
  }
  return reports;
}

/** @internal Instances registered in this thread, live or not yet pruned (spec/unit/registry.test.ts). */
export function registeredInstances(): number {
  let count = 0;
  for (const set of registry.values()) count += set.size;
  return count;
}

/**
 * @internal Observe automatic recoveries (tests and diagnostics). Returns an
 * unsubscribe function.
 */
export function onRecovery(listener: (report: RecoveryReport) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
