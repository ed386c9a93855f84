/**
 * Worker of the multi-worker benchmarks (started by mt-case.ts, never run by hand).
 *
 * It attaches the case's flatshare map, materializes the case's keys, and then
 * obeys commands from the main thread of its child process:
 *
 *   { cmd: 'run', gen, impl, mix, role, warmMs }   throughput cell
 *       smoke check (first use of impl) -> warm-up for warmMs -> 'ready' ->
 *       wait until control[GO] >= gen -> timed loop until control[STOP] >= gen -> 'done'
 *   { cmd: 'migrate-read' } / { cmd: 'migrate-write' }   migration latency (mt-case.ts)
 *   { cmd: 'vis-read', method } / { cmd: 'vis-write', method }   visibility latency
 *   { cmd: 'exit' }
 *
 * Every implementation has its own loop function literal, so each call site
 * (map.get, Map.get, db.get, ...) stays monomorphic. A worker runs one key
 * type only, so the key arrays are monomorphic too.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { open } from 'lmdb';
import { SharedFlatMap, type SharedFlatMapHandle } from '../lib/index.js';
import { insertBudget } from '../lib/layout.js';
import { materializeKeys, pickKeys, type Key, type KeyArray, type KeyType } from './keys.js';
import { Prng } from './prng.js';
import type { Mix, MtImpl } from './mt-types.js';
import {
  BROKER_BATCH,
  CTL_ACK,
  CTL_GO,
  CTL_PHASE,
  CTL_STOP,
  HIST_BUCKETS,
  HIST_BUCKET_NS,
  PHASE_AFTER,
  PHASE_COUNT,
  VALUE_FLIP,
  VALUE_MASK,
  percentilesOf,
  type Histogram,
  type MigrationWriterResult,
  type VisMethod,
  type WorkerData,
  type WorkerReply,
  type WorkerCommand,
  PHASE_INSERTING,
  PHASE_MIGRATING,
} from './mt-protocol.js';

if (parentPort === null) throw new Error('mt-worker.ts must run as a worker_thread');
const port = parentPort;
const data = workerData as WorkerData;
const ctl = new Int32Array(data.control);
const keyType: KeyType = data.keyType;
const keys: KeyArray = materializeKeys(keyType, new Int32Array(data.keys));
const map = SharedFlatMap.attach<Key, number>(data.handle as SharedFlatMapHandle);

/** Operations between two checks of the stop word. */
const CHUNK = 1024;
/** Broker messages between two checks of the stop word. */
const BROKER_CHUNK = 8;
/** Lookups checked by the smoke check before an implementation is first timed. */
const SMOKE_LOOKUPS = 4096;
/** receiveMessageOnPort polls before a broker call sleeps on its signal word. */
const BROKER_SPINS = 64;
/** Gets between two reads of the phase word in the migration reader. */
const PHASE_EVERY = 256;

class SmokeCheckError extends Error {}

let sink = 0;

// ---------------------------------------------------------------- lookup streams

/** Lookup stream of this worker: indices into `keys`, drawn uniformly with its own seed. */
const lookupIdx = new Int32Array(data.lookups);
{
  const prng = new Prng((data.seed ^ Math.imul(data.id + 1, 0x9e3779b1)) >>> 0);
  for (let i = 0; i < lookupIdx.length; i++) lookupIdx[i] = prng.below(keys.length);
}
const lookupKeys: KeyArray = pickKeys(keys, lookupIdx);
const lookupMask = lookupIdx.length - 1;
let cursor = 0;

const writeMasks = new Map<Mix, Uint8Array>();
/** 1 where the op at that position of the stream is an overwrite. */
function writeMaskOf(mix: Mix): Uint8Array {
  let m = writeMasks.get(mix);
  if (m === undefined) {
    m = new Uint8Array(lookupIdx.length);
    const every = mix === 'r90' ? 10 : mix === 'r50' ? 2 : 0;
    if (every > 0) {
      const prng = new Prng((data.seed ^ 0x5bd1e995 ^ data.id) >>> 0);
      for (let i = 0; i < m.length; i++) m[i] = prng.below(every) === 0 ? 1 : 0;
    }
    writeMasks.set(mix, m);
  }
  return m;
}

function stopped(stopGen: number, deadline: number): boolean {
  return Atomics.load(ctl, CTL_STOP) >= stopGen || performance.now() >= deadline;
}

// ---------------------------------------------------------------- flatshare loops

function readFlatshare(m: SharedFlatMap<Key, number>, lk: ArrayLike<Key>, stopGen: number, deadline: number): number {
  let ops = 0;
  let acc = 0;
  let p = cursor;
  while (!stopped(stopGen, deadline)) {
    for (let j = 0; j < CHUNK; j++) {
      acc = (acc + (m.get(lk[p] as Key) as number)) | 0;
      p = (p + 1) & lookupMask;
    }
    ops += CHUNK;
  }
  cursor = p;
  sink ^= acc;
  return ops;
}

let flip = 0;

function mixedFlatshare(
  m: SharedFlatMap<Key, number>,
  lk: ArrayLike<Key>,
  idx: Int32Array,
  write: Uint8Array,
  stopGen: number,
  deadline: number,
): number {
  let ops = 0;
  let acc = 0;
  let p = cursor;
  while (!stopped(stopGen, deadline)) {
    flip ^= VALUE_FLIP;
    for (let j = 0; j < CHUNK; j++) {
      if (write[p] === 1) m.set(lk[p] as Key, (idx[p] as number) | flip);
      else acc = (acc + (m.get(lk[p] as Key) as number)) | 0;
      p = (p + 1) & lookupMask;
    }
    ops += CHUNK;
  }
  cursor = p;
  sink ^= acc;
  return ops;
}

/** The extra writer of mix `rw`: overwrites present keys nonstop (same value modulo VALUE_FLIP). */
function writeFlatshare(m: SharedFlatMap<Key, number>, lk: ArrayLike<Key>, idx: Int32Array, stopGen: number, deadline: number): number {
  let ops = 0;
  let p = cursor;
  while (!stopped(stopGen, deadline)) {
    flip ^= VALUE_FLIP;
    for (let j = 0; j < CHUNK; j++) {
      m.set(lk[p] as Key, (idx[p] as number) | flip);
      p = (p + 1) & lookupMask;
    }
    ops += CHUNK;
  }
  cursor = p;
  return ops;
}

// ---------------------------------------------------------------- Map copy per worker

let mapCopy: Map<Key, number> | undefined;
function copyOf(): Map<Key, number> {
  if (mapCopy === undefined) {
    mapCopy = new Map<Key, number>();
    for (let i = 0; i < keys.length; i++) mapCopy.set(keys[i] as Key, i);
  }
  return mapCopy;
}

function readMapCopy(m: Map<Key, number>, lk: ArrayLike<Key>, stopGen: number, deadline: number): number {
  let ops = 0;
  let acc = 0;
  let p = cursor;
  while (!stopped(stopGen, deadline)) {
    for (let j = 0; j < CHUNK; j++) {
      acc = (acc + (m.get(lk[p] as Key) as number)) | 0;
      p = (p + 1) & lookupMask;
    }
    ops += CHUNK;
  }
  cursor = p;
  sink ^= acc;
  return ops;
}

// ---------------------------------------------------------------- lmdb-js

interface LmdbReader {
  get(key: Key): unknown;
}
const lmdbDbs = new Map<MtImpl, LmdbReader>();
function lmdbOf(impl: MtImpl): LmdbReader {
  let db = lmdbDbs.get(impl);
  if (db === undefined) {
    if (data.lmdbPath === null) throw new Error('lmdb: no database path for this job');
    // Default lmdb-js options (no cache), and cache: true; read-only use of the file the main thread wrote.
    db = open<number, Key>({ path: data.lmdbPath, cache: impl === 'lmdb-cache', noSync: true }) as LmdbReader;
    lmdbDbs.set(impl, db);
  }
  return db;
}

function readLmdb(db: LmdbReader, lk: ArrayLike<Key>, stopGen: number, deadline: number): number {
  let ops = 0;
  let acc = 0;
  let p = cursor;
  while (!stopped(stopGen, deadline)) {
    for (let j = 0; j < CHUNK; j++) {
      acc = (acc + (db.get(lk[p] as Key) as number)) | 0;
      p = (p + 1) & lookupMask;
    }
    ops += CHUNK;
  }
  cursor = p;
  sink ^= acc;
  return ops;
}

// ---------------------------------------------------------------- broker: main-thread Map behind postMessage

const brokerPort: MessagePort | null = data.brokerPort;
const brokerSig = new Int32Array(data.brokerSig);

/**
 * One synchronous request to the main thread: post, then poll
 * receiveMessageOnPort a few times, then sleep on this worker's signal word,
 * which the main thread bumps (and notifies) right after posting the reply.
 */
function brokerCall(request: unknown, transfer: ArrayBuffer[] = []): unknown {
  if (brokerPort === null) throw new Error('broker: no port');
  const seen = Atomics.load(brokerSig, data.id);
  brokerPort.postMessage(request, transfer);
  for (let spins = 0; ; spins++) {
    const reply = receiveMessageOnPort(brokerPort);
    if (reply !== undefined) return reply.message;
    if (spins >= BROKER_SPINS) Atomics.wait(brokerSig, data.id, seen, 10);
  }
}

function readBrokerOne(lk: ArrayLike<Key>, stopGen: number, deadline: number): number {
  let ops = 0;
  let acc = 0;
  let p = cursor;
  while (!stopped(stopGen, deadline)) {
    for (let j = 0; j < BROKER_CHUNK; j++) {
      acc = (acc + (brokerCall(lk[p]) as number)) | 0;
      p = (p + 1) & lookupMask;
    }
    ops += BROKER_CHUNK;
  }
  cursor = p;
  sink ^= acc;
  return ops;
}

/** Keys [p, p + BROKER_BATCH) of the stream as a fresh array (a subarray would clone its whole buffer). */
function batchAt(lk: KeyArray, p: number): Int32Array | string[] {
  return lk.slice(p, p + BROKER_BATCH);
}

function readBrokerBatch(lk: KeyArray, stopGen: number, deadline: number): number {
  let ops = 0;
  let acc = 0;
  let p = cursor - (cursor % BROKER_BATCH);
  while (!stopped(stopGen, deadline)) {
    for (let j = 0; j < BROKER_CHUNK; j++) {
      const batch = batchAt(lk, p);
      const values = brokerCall(batch, batch instanceof Int32Array ? [batch.buffer as ArrayBuffer] : []) as Int32Array;
      for (let i = 0; i < values.length; i++) acc = (acc + (values[i] as number)) | 0;
      p = (p + BROKER_BATCH) & lookupMask;
    }
    ops += BROKER_CHUNK * BROKER_BATCH;
  }
  cursor = p;
  sink ^= acc;
  return ops;
}

// ---------------------------------------------------------------- one cell

function runImpl(impl: MtImpl, mix: Mix, role: 'reader' | 'writer', stopGen: number, deadline: number): number {
  if (role === 'writer') return writeFlatshare(map, lookupKeys, lookupIdx, stopGen, deadline);
  switch (impl) {
    case 'flatshare':
      return mix === 'r90' || mix === 'r50'
        ? mixedFlatshare(map, lookupKeys, lookupIdx, writeMaskOf(mix), stopGen, deadline)
        : readFlatshare(map, lookupKeys, stopGen, deadline);
    case 'map-copy':
      return readMapCopy(copyOf(), lookupKeys, stopGen, deadline);
    case 'broker-1':
      return readBrokerOne(lookupKeys, stopGen, deadline);
    case 'broker-64':
      return readBrokerBatch(lookupKeys, stopGen, deadline);
    case 'lmdb':
    case 'lmdb-cache':
      return readLmdb(lmdbOf(impl), lookupKeys, stopGen, deadline);
  }
}

/** One value as `impl` returns it for lookup position p (smoke check only). */
function lookupVia(impl: MtImpl, p: number): unknown {
  const key = lookupKeys[p] as Key;
  switch (impl) {
    case 'flatshare':
      return map.get(key);
    case 'map-copy':
      return copyOf().get(key);
    case 'broker-1':
      return brokerCall(key);
    case 'broker-64': {
      const base = p - (p % BROKER_BATCH);
      return (brokerCall(batchAt(lookupKeys, base)) as Int32Array)[p - base];
    }
    case 'lmdb':
    case 'lmdb-cache':
      return lmdbOf(impl).get(key);
  }
}

const checked = new Set<MtImpl>();
/** Values read back must be the values written: index of the key (modulo the overwrite flip bit). */
function smokeCheck(impl: MtImpl): void {
  if (checked.has(impl)) return;
  const n = Math.min(SMOKE_LOOKUPS, lookupIdx.length);
  for (let p = 0; p < n; p++) {
    const v = lookupVia(impl, p);
    const expected = lookupIdx[p] as number;
    if (typeof v !== 'number' || (v & VALUE_MASK) !== expected) {
      throw new SmokeCheckError(`worker ${data.id}, ${impl}: key ${String(lookupKeys[p])} read back ${String(v)}, expected ${expected}`);
    }
  }
  checked.add(impl);
}

function waitForGo(gen: number): void {
  for (;;) {
    const g = Atomics.load(ctl, CTL_GO);
    if (g >= gen) return;
    Atomics.wait(ctl, CTL_GO, g, 50);
  }
}

function runCell(cmd: Extract<WorkerCommand, { cmd: 'run' }>): void {
  if (cmd.role === 'reader') smokeCheck(cmd.impl);
  runImpl(cmd.impl, cmd.mix, cmd.role, cmd.gen, performance.now() + cmd.warmMs);
  reply({ type: 'ready', gen: cmd.gen });
  waitForGo(cmd.gen);
  const t0 = performance.now();
  const ops = runImpl(cmd.impl, cmd.mix, cmd.role, cmd.gen, Number.POSITIVE_INFINITY);
  reply({ type: 'done', gen: cmd.gen, ops, ms: performance.now() - t0 });
}

// ---------------------------------------------------------------- migration latency

function newHistograms(): Histogram[] {
  return Array.from({ length: PHASE_COUNT }, () => ({ buckets: new Uint32Array(HIST_BUCKETS), overflow: [] as number[] }));
}

/**
 * The reader: time every get with performance.now() (one call per get: the
 * latency of get i is now_i - now_{i-1}, so it includes one performance.now()
 * and the loop), file it under the phase the writer announced.
 */
function migrateRead(): void {
  smokeCheck('flatshare');
  reply({ type: 'ready', gen: 1 });
  waitForGo(1);
  const hists = newHistograms();
  const lk = lookupKeys;
  let hist = hists[0] as Histogram;
  let p = 0;
  let acc = 0;
  let bad = 0;
  let prev = performance.now();
  while (Atomics.load(ctl, CTL_STOP) < 1) {
    for (let j = 0; j < PHASE_EVERY; j++) {
      const v = map.get(lk[p] as Key);
      const now = performance.now();
      const b = Math.floor(((now - prev) * 1e6) / HIST_BUCKET_NS);
      prev = now;
      if (b < HIST_BUCKETS) hist.buckets[b] = (hist.buckets[b] as number) + 1;
      else hist.overflow.push((b * HIST_BUCKET_NS) / 1000);
      if (v === undefined || (v & VALUE_MASK) !== (lookupIdx[p] as number)) bad++;
      acc = (acc + (v as number)) | 0;
      p = (p + 1) & lookupMask;
    }
    hist = hists[Atomics.load(ctl, CTL_PHASE)] as Histogram;
    prev = performance.now();
  }
  sink ^= acc;
  if (bad !== 0) throw new SmokeCheckError(`migration reader: ${bad} gets of present keys returned a wrong value or undefined`);
  reply({ type: 'migration-read', phases: hists.map((h) => percentilesOf(h)) });
}

/**
 * The writer: insert new keys (data.extraKeys) until the table has one
 * insert left before its budget, announce PHASE_MIGRATING, insert until the
 * capacity changes, announce PHASE_AFTER.
 */
function migrateWrite(approach: number): void {
  const extra = materializeKeys(keyType, new Int32Array(data.extraKeys));
  const lanesOf = (): number => {
    const { table, g } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
    return table.buckets * g.lanes;
  };
  const { table, g } = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  const before = lanesOf();
  const budget = insertBudget(table.buckets, g.lanes);
  let i = 0;
  Atomics.store(ctl, CTL_PHASE, PHASE_INSERTING);
  const firstTimed = Math.max(0, budget - map.size - approach);
  for (; i < firstTimed && i < extra.length; i++) map.set(extra[i] as Key, keys.length + i);
  Atomics.store(ctl, CTL_PHASE, PHASE_MIGRATING);
  let migrationMs = 0;
  let after = before;
  for (; i < extra.length && after === before; i++) {
    const t = performance.now();
    map.set(extra[i] as Key, keys.length + i);
    const d = performance.now() - t;
    if (d > migrationMs) migrationMs = d;
    if ((i & 63) === 0 || d > 1) after = lanesOf();
  }
  Atomics.store(ctl, CTL_PHASE, PHASE_AFTER);
  if (after === before) throw new Error(`migration writer: ${i} inserts did not resize the table (capacity ${before})`);
  const result: MigrationWriterResult = { migrationMs, capacityBefore: before, capacityAfter: after, inserted: i };
  reply({ type: 'migration-write', result });
}

// ---------------------------------------------------------------- visibility latency

const visKey: Key = keys[0] as Key;
const visEventPort: MessagePort | null = data.visEventPort;
const visPollPort: MessagePort | null = data.visPollPort;
/** Spins of the visibility loops before they give up (a hang is a bug, not a result). */
const VIS_SPIN_LIMIT = 2e9;

function hrNow(): bigint {
  return process.hrtime.bigint();
}

function spinUntilAck(i: number): void {
  for (let s = 0; Atomics.load(ctl, CTL_ACK) !== i; s++) if (s > VIS_SPIN_LIMIT) throw new Error(`visibility: no ack ${i}`);
}

/** A random 2-20 µs busy pause, so the reader is already spinning (or idle) when the value changes. */
function pause(prng: Prng): void {
  const until = performance.now() + (2 + prng.below(18)) / 1000;
  while (performance.now() < until);
}

function visWrite(method: VisMethod, iterations: number, stamp: BigInt64Array): void {
  const prng = new Prng(data.seed ^ 0x77);
  for (let i = 1; i <= iterations; i++) {
    spinUntilAck(i - 1);
    pause(prng);
    const t = hrNow();
    Atomics.store(stamp, 0, t);
    if (method === 'flatshare-spin') map.set(visKey, i);
    else (method === 'postMessage-event' ? visEventPort : visPollPort)?.postMessage({ v: i, t });
  }
  spinUntilAck(iterations);
  reply({ type: 'vis-done', latenciesNs: [] });
}

function visReadFlatshare(iterations: number, stamp: BigInt64Array): void {
  const lat: number[] = [];
  for (let i = 1; i <= iterations; i++) {
    for (let s = 0; map.get(visKey) !== i; s++) if (s > VIS_SPIN_LIMIT) throw new Error(`visibility: value ${i} never seen`);
    const t = hrNow();
    lat.push(Number(t - Atomics.load(stamp, 0)));
    Atomics.store(ctl, CTL_ACK, i);
  }
  reply({ type: 'vis-done', latenciesNs: lat });
}

function visReadPoll(iterations: number): void {
  if (visPollPort === null) throw new Error('visibility: no poll port');
  const copy = copyOf();
  const lat: number[] = [];
  for (let i = 1; i <= iterations; i++) {
    let msg: { v: number; t: bigint } | undefined;
    for (let s = 0; msg === undefined; s++) {
      msg = receiveMessageOnPort(visPollPort)?.message as { v: number; t: bigint } | undefined;
      if (s > VIS_SPIN_LIMIT) throw new Error(`visibility: message ${i} never arrived`);
    }
    copy.set(visKey, msg.v);
    lat.push(Number(hrNow() - msg.t));
    Atomics.store(ctl, CTL_ACK, i);
  }
  reply({ type: 'vis-done', latenciesNs: lat });
}

/** The receiver sits idle in its event loop; each message updates its Map copy. */
function visReadEvent(iterations: number): void {
  if (visEventPort === null) throw new Error('visibility: no event port');
  const copy = copyOf();
  const lat: number[] = [];
  const portRef = visEventPort;
  portRef.on('message', (msg: { v: number; t: bigint }) => {
    copy.set(visKey, msg.v);
    lat.push(Number(hrNow() - msg.t));
    Atomics.store(ctl, CTL_ACK, msg.v);
    if (msg.v === iterations) {
      portRef.removeAllListeners('message');
      portRef.unref();
      reply({ type: 'vis-done', latenciesNs: lat });
    }
  });
  reply({ type: 'vis-listening' });
}

// ---------------------------------------------------------------- plumbing

function reply(message: WorkerReply): void {
  port.postMessage(message);
}

port.on('message', (cmd: WorkerCommand) => {
  try {
    switch (cmd.cmd) {
      case 'run':
        runCell(cmd);
        break;
      case 'migrate-read':
        migrateRead();
        break;
      case 'migrate-write':
        migrateWrite(cmd.approach);
        break;
      case 'vis-write':
        visWrite(cmd.method, cmd.iterations, new BigInt64Array(cmd.stamp));
        break;
      case 'vis-read': {
        if (cmd.method === 'flatshare-spin') visReadFlatshare(cmd.iterations, new BigInt64Array(cmd.stamp));
        else if (cmd.method === 'postMessage-poll') visReadPoll(cmd.iterations);
        else visReadEvent(cmd.iterations);
        break;
      }
      case 'exit':
        for (const db of lmdbDbs.values()) (db as unknown as { close(): void }).close();
        map.releaseThread();
        reply({ type: 'exited', sink });
        port.close();
        break;
    }
  } catch (error) {
    reply({
      type: 'error',
      smoke: error instanceof SmokeCheckError,
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
  }
});

reply({ type: 'up' });
