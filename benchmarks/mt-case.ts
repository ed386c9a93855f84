/**
 * One multi-worker benchmark job in a fresh process:
 * `node --expose-gc build/benchmarks/mt-case.js '<json MtConfig>'` (run.ts starts it).
 *
 * - mt-throughput: one (key type, size). Creates the keys, the flatshare map,
 *   the broker's Map and the lmdb-js database, starts max(workers) + 1 workers
 *   (the +1 is the writer of mix `rw`), and runs every cell (impl × mix ×
 *   worker count) in `rounds` interleaved rounds, the order reversed every other
 *   round, so a burst of load from other jobs does not land on one implementation.
 *   Workers smoke-check each implementation before they first time it; after
 *   the last cell the main thread checks every key of the map.
 * - mt-migration: reader get latency while another worker's inserts migrate a 1M-entry table.
 * - mt-visibility: time until a set in one worker is seen in another.
 * - mt-memory: shared bytes per entry vs the V8 heap of a Map copy.
 *
 * The result is one JSON line on stdout; progress goes to stderr. A smoke
 * check failure exits with status 2, any other failure with 1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { open } from 'lmdb';
import { SharedFlatMap } from '../lib/index.js';
import { insertBudget } from '../lib/layout.js';
import { flatshareSupport, materializeKeys, type Key, type KeyArray, type KeyType } from './keys.js';
import {
  CTL_GO,
  CTL_INTS,
  CTL_PHASE,
  CTL_STOP,
  PHASE_AFTER,
  PHASE_INSERTING,
  PHASE_MIGRATING,
  PHASE_STEADY,
  VALUE_MASK,
  percentilesOfNs,
  type BrokerRequest,
  type MigrationWriterResult,
  type VisMethod,
  type WorkerCommand,
  type WorkerData,
  type WorkerReply,
} from './mt-protocol.js';
import {
  mixesOf,
  type CellResult,
  type CellRound,
  type MemoryConfig,
  type MemoryOutput,
  type MemoryRow,
  type MigrationConfig,
  type MigrationOutput,
  type Mix,
  type MtConfig,
  type MtImpl,
  type MtOutput,
  type Percentiles,
  type ThroughputConfig,
  type ThroughputOutput,
  type VisibilityConfig,
  type VisibilityOutput,
  type VisibilityRow,
} from './mt-types.js';
import { median } from './measure.js';
import { Prng, distinctKeys } from './prng.js';

class SmokeCheckError extends Error {}

const workerScript = new URL('./mt-worker.js', import.meta.url);
const gc = (globalThis as { gc?: () => void }).gc;
/** Lookup stream per worker (power of two, multiple of BROKER_BATCH). */
const LOOKUPS_MIN = 1 << 14;
const LOOKUPS_MAX = 1 << 18;
/** Inserts the migration writer does inside PHASE_MIGRATING before the resizing one. */
const MIGRATION_APPROACH = 2000;

function log(message: string): void {
  process.stderr.write(`  [mt] ${message}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function lookupsFor(size: number): number {
  let n = LOOKUPS_MIN;
  while (n < size && n < LOOKUPS_MAX) n *= 2;
  return n;
}

// ---------------------------------------------------------------- worker pool

/** A worker and a mailbox of its replies, so the main thread can await a given reply type. */
class PoolWorker {
  readonly worker: Worker;
  private readonly inbox: WorkerReply[] = [];
  private waiter: { type: WorkerReply['type']; resolve: (r: WorkerReply) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(readonly id: number, data: WorkerData, transfer: MessagePort[]) {
    this.worker = new Worker(workerScript, { workerData: data, transferList: transfer });
    this.worker.on('message', (r: WorkerReply) => {
      if (r.type === 'error') {
        this.fail(r.smoke ? new SmokeCheckError(r.message) : new Error(`worker ${id}: ${r.message}`));
        return;
      }
      this.inbox.push(r);
      this.deliver();
    });
    this.worker.on('error', (e) => this.fail(e instanceof Error ? e : new Error(String(e))));
    this.worker.on('exit', (code) => {
      if (code !== 0) this.fail(new Error(`worker ${id} exited with ${code}`));
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(error);
  }

  private deliver(): void {
    const w = this.waiter;
    if (w === undefined) return;
    const i = this.inbox.findIndex((r) => r.type === w.type);
    if (i < 0) return;
    const [r] = this.inbox.splice(i, 1);
    this.waiter = undefined;
    w.resolve(r as WorkerReply);
  }

  send(cmd: WorkerCommand): void {
    this.worker.postMessage(cmd);
  }

  expect<T extends WorkerReply['type']>(type: T): Promise<Extract<WorkerReply, { type: T }>> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { type, resolve: resolve as (r: WorkerReply) => void, reject };
      this.deliver();
    });
  }

  async close(): Promise<void> {
    if (this.failure === undefined) {
      this.send({ cmd: 'exit' });
      await Promise.race([this.expect('exited'), sleep(2000)]).catch(() => undefined);
    }
    await this.worker.terminate();
  }
}

interface Fixture {
  keyType: KeyType;
  ints: Int32Array;
  keys: KeyArray;
  keysSab: SharedArrayBuffer;
  map: SharedFlatMap<Key, number>;
  control: Int32Array;
}

function makeFixture(keyType: KeyType, size: number, seed: number, capacity?: number): Fixture {
  const prng = new Prng(seed);
  const keysSab = new SharedArrayBuffer(size * 4);
  const ints = new Int32Array(keysSab);
  ints.set(distinctKeys(prng, size));
  const keys = materializeKeys(keyType, ints);
  const map = new SharedFlatMap<Key, number>({ keys: keyType, values: 'int32', ...(capacity === undefined ? {} : { capacity }) });
  for (let i = 0; i < size; i++) map.set(keys[i] as Key, i);
  if (map.size !== size) throw new SmokeCheckError(`fixture: map.size ${map.size} != ${size}`);
  return { keyType, ints, keys, keysSab, map, control: new Int32Array(new SharedArrayBuffer(CTL_INTS * 4)) };
}

/** Every key reads back its index (modulo the overwrite bit), and nothing was added or lost. */
function checkMap(stage: string, f: Fixture, expectedSize: number): void {
  for (let i = 0; i < f.keys.length; i++) {
    const v = f.map.get(f.keys[i] as Key);
    if (v === undefined || (v & VALUE_MASK) !== i) throw new SmokeCheckError(`${stage}: key ${String(f.keys[i])} = ${String(v)}, expected ${i}`);
  }
  if (f.map.size !== expectedSize) throw new SmokeCheckError(`${stage}: size ${f.map.size}, expected ${expectedSize}`);
  log(`${stage}: all ${f.keys.length} keys read back their values, size ${expectedSize}`);
}

interface PoolOptions {
  count: number;
  seed: number;
  lookups: number;
  lmdbPath: string | null;
  broker: Map<Key, number> | null;
  extraKeys?: SharedArrayBuffer;
  visPorts?: { event: [MessagePort, MessagePort]; poll: [MessagePort, MessagePort] };
}

async function startPool(f: Fixture, o: PoolOptions): Promise<{ workers: PoolWorker[]; brokerPorts: MessagePort[] }> {
  const brokerSig = new SharedArrayBuffer(o.count * 4);
  const sig = new Int32Array(brokerSig);
  const workers: PoolWorker[] = [];
  const brokerPorts: MessagePort[] = [];
  for (let id = 0; id < o.count; id++) {
    let brokerPort: MessagePort | null = null;
    if (o.broker !== null) {
      const channel = new MessageChannel();
      brokerPort = channel.port2;
      serveBroker(channel.port1, o.broker, sig, id);
      brokerPorts.push(channel.port1);
    }
    const visEventPort = o.visPorts?.event[id] ?? null;
    const visPollPort = o.visPorts?.poll[id] ?? null;
    const data: WorkerData = {
      id,
      keyType: f.keyType,
      keys: f.keysSab,
      extraKeys: o.extraKeys ?? new SharedArrayBuffer(0),
      handle: f.map.handle,
      control: f.control.buffer as SharedArrayBuffer,
      lookups: o.lookups,
      seed: o.seed,
      lmdbPath: o.lmdbPath,
      brokerPort,
      brokerSig,
      visEventPort,
      visPollPort,
    };
    const transfer = [brokerPort, visEventPort, visPollPort].filter((p): p is MessagePort => p !== null);
    workers.push(new PoolWorker(id, data, transfer));
  }
  await Promise.all(workers.map((w) => w.expect('up')));
  return { workers, brokerPorts };
}

/**
 * The broker: the main thread's Map answers each request on the event loop,
 * then bumps the worker's signal word so a worker sleeping in Atomics.wait wakes.
 */
function serveBroker(port: MessagePort, map: Map<Key, number>, sig: Int32Array, id: number): void {
  port.on('message', (req: BrokerRequest) => {
    if (typeof req === 'object') {
      const out = new Int32Array(req.length);
      for (let i = 0; i < req.length; i++) out[i] = map.get(req[i] as Key) ?? -1;
      port.postMessage(out, [out.buffer]);
    } else {
      port.postMessage(map.get(req) ?? -1);
    }
    Atomics.add(sig, id, 1);
    Atomics.notify(sig, id);
  });
}

// ---------------------------------------------------------------- throughput

interface Cell {
  impl: MtImpl;
  mix: Mix;
  workers: number;
}

function cellsOf(config: ThroughputConfig): Cell[] {
  const cells: Cell[] = [];
  for (const impl of config.impls) for (const mix of mixesOf(impl)) for (const workers of config.workerCounts) cells.push({ impl, mix, workers });
  return cells;
}

async function runCell(pool: PoolWorker[], control: Int32Array, cell: Cell, gen: number, config: ThroughputConfig): Promise<CellRound> {
  const readers = pool.slice(0, cell.workers);
  const writer = cell.mix === 'rw' ? (pool[pool.length - 1] as PoolWorker) : undefined;
  const active = writer === undefined ? readers : [...readers, writer];
  for (const w of readers) w.send({ cmd: 'run', gen, impl: cell.impl, mix: cell.mix, role: 'reader', warmMs: config.warmMs });
  writer?.send({ cmd: 'run', gen, impl: cell.impl, mix: cell.mix, role: 'writer', warmMs: config.warmMs });
  await Promise.all(active.map((w) => w.expect('ready')));
  Atomics.store(control, CTL_GO, gen);
  Atomics.notify(control, CTL_GO);
  await sleep(config.cellMs);
  Atomics.store(control, CTL_STOP, gen);
  const readerResults = await Promise.all(readers.map((w) => w.expect('done')));
  const writerResult = writer === undefined ? undefined : await writer.expect('done');
  return { ops: readerResults.map((r) => r.ops), ms: readerResults.map((r) => r.ms), writerOps: writerResult?.ops ?? 0 };
}

/** Median over rounds (robust to a burst of load from other jobs landing on one round). */
function summarize(cell: Cell, rounds: CellRound[]): CellResult {
  const aggregate = rounds.map((r) => r.ops.reduce((acc, ops, i) => acc + ops / ((r.ms[i] as number) * 1000), 0));
  const perOp = rounds.map((r) => r.ops.reduce((acc, ops, i) => acc + ((r.ms[i] as number) * 1e6) / ops, 0) / r.ops.length);
  return { ...cell, rounds, aggregateMops: median(aggregate), nsPerOp: median(perOp) };
}

function fillLmdb(dir: string, keys: KeyArray): void {
  const db = open<number, Key>({ path: dir, noSync: true });
  db.transactionSync(() => {
    for (let i = 0; i < keys.length; i++) void db.put(keys[i] as Key, i);
  });
  for (let i = 0; i < keys.length; i += Math.max(1, keys.length >> 10)) {
    if (db.get(keys[i] as Key) !== i) throw new SmokeCheckError(`lmdb fill: key ${String(keys[i])} did not read back ${i}`);
  }
  void db.close();
}

async function runThroughput(config: ThroughputConfig): Promise<ThroughputOutput> {
  const started = performance.now();
  const support = flatshareSupport(config.keyType);
  const base = { kind: 'mt-throughput' as const, keyType: config.keyType, size: config.size, seed: config.seed };
  if (!support.ok) return { ...base, unsupported: support.reason, cells: [], wallSeconds: 0 };

  const f = makeFixture(config.keyType, config.size, config.seed);
  const usesBroker = config.impls.some((i) => i.startsWith('broker'));
  const usesLmdb = config.impls.some((i) => i.startsWith('lmdb'));
  let broker: Map<Key, number> | null = null;
  if (usesBroker) {
    broker = new Map<Key, number>();
    for (let i = 0; i < f.keys.length; i++) broker.set(f.keys[i] as Key, i);
  }
  const lmdbDir = usesLmdb ? mkdtempSync(join(os.tmpdir(), 'flatshare-bench-lmdb-')) : null;
  const maxWorkers = Math.max(...config.workerCounts);
  let pool: PoolWorker[] = [];
  let brokerPorts: MessagePort[] = [];
  try {
    if (lmdbDir !== null) fillLmdb(lmdbDir, f.keys);
    ({ workers: pool, brokerPorts } = await startPool(f, {
      count: maxWorkers + 1,
      seed: config.seed,
      lookups: lookupsFor(config.size),
      lmdbPath: lmdbDir,
      broker,
    }));
    log(`${config.keyType} ${config.size}: ${pool.length} workers up`);
    const cells = cellsOf(config);
    const rounds = new Map<Cell, CellRound[]>(cells.map((c) => [c, []]));
    let gen = 0;
    for (let round = 0; round < config.rounds; round++) {
      const order = round % 2 === 0 ? cells : [...cells].reverse();
      for (const cell of order) {
        const r = await runCell(pool, f.control, cell, ++gen, config);
        rounds.get(cell)?.push(r);
      }
      log(`round ${round + 1}/${config.rounds}: ${cells.length} cells`);
    }
    checkMap('check after timing', f, config.size);
    const results = cells.map((c) => summarize(c, rounds.get(c) ?? []));
    for (const r of results) log(`${r.impl} ${r.mix} x${r.workers}: ${r.aggregateMops.toFixed(2)} Mops/s aggregate, ${r.nsPerOp.toFixed(1)} ns/op per worker`);
    return { ...base, unsupported: undefined, cells: results, wallSeconds: (performance.now() - started) / 1000 };
  } finally {
    await Promise.all(pool.map((w) => w.close()));
    for (const p of brokerPorts) p.close();
    if (lmdbDir !== null) rmSync(lmdbDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- migration latency

async function runMigration(config: MigrationConfig): Promise<MigrationOutput> {
  const started = performance.now();
  const support = flatshareSupport(config.keyType);
  const empty = { steady: undefined, inserting: undefined, migrating: undefined, after: undefined, migrationMs: 0, capacityBefore: 0, capacityAfter: 0, inserted: 0 };
  const base = { kind: 'mt-migration' as const, keyType: config.keyType, size: config.size };
  if (!support.ok) return { ...base, ...empty, unsupported: support.reason, wallSeconds: 0 };

  // Grown from the default capacity, like a map filled at start-up.
  const f = makeFixture(config.keyType, config.size, config.seed);
  const { table, g } = SharedFlatMap.unsafeExposeInternals(f.map as SharedFlatMap<unknown, unknown>);
  const capacity = table.buckets * g.lanes; // lanes
  const needed = insertBudget(table.buckets, g.lanes) - f.map.size + MIGRATION_APPROACH;
  const extraSab = new SharedArrayBuffer(needed * 4);
  new Int32Array(extraSab).set(distinctKeys(new Prng(config.seed ^ 0xe7), needed, new Set(f.ints)));
  log(`migration: ${config.size} entries in ${capacity} lanes; the writer inserts up to ${needed} new keys`);
  const { workers } = await startPool(f, { count: 2, seed: config.seed, lookups: lookupsFor(config.size), lmdbPath: null, broker: null, extraKeys: extraSab });
  try {
    const [reader, writer] = workers as [PoolWorker, PoolWorker];
    Atomics.store(f.control, CTL_PHASE, PHASE_STEADY);
    reader.send({ cmd: 'migrate-read' });
    await reader.expect('ready');
    Atomics.store(f.control, CTL_GO, 1);
    Atomics.notify(f.control, CTL_GO);
    await sleep(config.steadyMs);
    writer.send({ cmd: 'migrate-write', approach: MIGRATION_APPROACH });
    const w: MigrationWriterResult = (await writer.expect('migration-write')).result;
    await sleep(config.steadyMs);
    Atomics.store(f.control, CTL_STOP, 1);
    const phases = (await reader.expect('migration-read')).phases;
    log(`migration: ${w.capacityBefore} -> ${w.capacityAfter} slots, migrating set() took ${w.migrationMs.toFixed(1)} ms`);
    for (let i = 0; i < f.keys.length; i++) {
      if (((f.map.get(f.keys[i] as Key) ?? -1) & VALUE_MASK) !== i) throw new SmokeCheckError(`migration: key ${String(f.keys[i])} lost its value`);
    }
    if (f.map.size !== config.size + w.inserted) throw new SmokeCheckError(`migration: size ${f.map.size}, expected ${config.size + w.inserted}`);
    return {
      ...base,
      unsupported: undefined,
      steady: phases[PHASE_STEADY],
      inserting: phases[PHASE_INSERTING],
      migrating: phases[PHASE_MIGRATING],
      after: phases[PHASE_AFTER],
      migrationMs: w.migrationMs,
      capacityBefore: w.capacityBefore,
      capacityAfter: w.capacityAfter,
      inserted: w.inserted,
      wallSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
}

// ---------------------------------------------------------------- visibility latency

async function runVisibility(config: VisibilityConfig): Promise<VisibilityOutput> {
  const started = performance.now();
  const support = flatshareSupport(config.keyType);
  const base = { kind: 'mt-visibility' as const, keyType: config.keyType };
  if (!support.ok) return { ...base, unsupported: support.reason, rows: [], wallSeconds: 0 };
  const f = makeFixture(config.keyType, 1000, config.seed);
  f.map.set(f.keys[0] as Key, 0);
  const event = new MessageChannel();
  const poll = new MessageChannel();
  const { workers } = await startPool(f, {
    count: 2,
    seed: config.seed,
    lookups: lookupsFor(1000),
    lmdbPath: null,
    broker: null,
    visPorts: { event: [event.port1, event.port2], poll: [poll.port1, poll.port2] },
  });
  const rows: VisibilityRow[] = [];
  try {
    const [writer, reader] = workers as [PoolWorker, PoolWorker];
    const methods: VisMethod[] = ['flatshare-spin', 'postMessage-event', 'postMessage-poll'];
    for (const method of methods) {
      const stamp = new SharedArrayBuffer(8);
      f.control.fill(0);
      if (method === 'flatshare-spin') f.map.set(f.keys[0] as Key, 0);
      reader.send({ cmd: 'vis-read', method, iterations: config.iterations, stamp });
      if (method === 'postMessage-event') await reader.expect('vis-listening');
      writer.send({ cmd: 'vis-write', method, iterations: config.iterations, stamp });
      const lat = (await reader.expect('vis-done')).latenciesNs;
      await writer.expect('vis-done');
      if (lat.length !== config.iterations) throw new SmokeCheckError(`visibility ${method}: ${lat.length} of ${config.iterations} hand-offs seen`);
      const latency: Percentiles = percentilesOfNs(lat);
      rows.push({ method, latency });
      log(`visibility ${method}: p50 ${latency.p50.toFixed(2)} µs, p99 ${latency.p99.toFixed(2)} µs`);
    }
    if (f.map.get(f.keys[0] as Key) !== config.iterations) throw new SmokeCheckError(`visibility: final value ${String(f.map.get(f.keys[0] as Key))}`);
  } finally {
    await Promise.all(workers.map((w) => w.close()));
  }
  return { ...base, unsupported: undefined, rows, wallSeconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------- memory

function heapUsed(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

function runMemory(config: MemoryConfig): MemoryOutput {
  const support = flatshareSupport(config.keyType);
  const base = { kind: 'mt-memory' as const, keyType: config.keyType };
  if (!support.ok) return { ...base, unsupported: support.reason, rows: [] };
  if (gc === undefined) throw new Error('mt-memory needs --expose-gc');
  const rows: MemoryRow[] = [];
  for (const size of config.sizes) {
    const keys = materializeKeys(config.keyType, distinctKeys(new Prng(config.seed), size));
    // The keys themselves exist before either structure is built; only the structure is counted.
    const h0 = heapUsed();
    const map = new Map<Key, number>();
    for (let i = 0; i < size; i++) map.set(keys[i] as Key, i);
    const h1 = heapUsed();
    const fs = new SharedFlatMap<Key, number>({ keys: config.keyType, values: 'int32' });
    for (let i = 0; i < size; i++) fs.set(keys[i] as Key, i);
    const h2 = heapUsed();
    const presized = new SharedFlatMap<Key, number>({ keys: config.keyType, values: 'int32', capacity: size });
    for (let i = 0; i < size; i++) presized.set(keys[i] as Key, i);
    for (let i = 0; i < size; i++) {
      const k = keys[i] as Key;
      if (map.get(k) !== i || fs.get(k) !== i || presized.get(k) !== i) throw new SmokeCheckError(`memory: key ${String(k)} disagrees`);
    }
    rows.push({
      size,
      sharedBytesPerEntry: fs.handle.memory.buffer.byteLength / size,
      presizedSharedBytesPerEntry: presized.handle.memory.buffer.byteLength / size,
      flatshareHeapBytesPerEntry: Math.max(0, h2 - h1) / size,
      mapHeapBytesPerEntry: Math.max(0, h1 - h0) / size,
    });
    const last = rows[rows.length - 1] as MemoryRow;
    log(`memory ${size}: flatshare ${last.sharedBytesPerEntry.toFixed(1)} shared B/entry; Map ${last.mapHeapBytesPerEntry.toFixed(1)} heap B/entry per copy`);
  }
  return { ...base, unsupported: undefined, rows };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (arg === undefined) {
    process.stderr.write("usage: node --expose-gc build/benchmarks/mt-case.js '<json config>'\n");
    process.exit(64);
  }
  const config = JSON.parse(arg) as MtConfig;
  try {
    let output: MtOutput;
    switch (config.kind) {
      case 'mt-throughput':
        output = await runThroughput(config);
        break;
      case 'mt-migration':
        output = await runMigration(config);
        break;
      case 'mt-visibility':
        output = await runVisibility(config);
        break;
      case 'mt-memory':
        output = runMemory(config);
        break;
    }
    process.stdout.write(`${JSON.stringify(output)}\n`);
    process.exit(0);
  } catch (error) {
    process.stderr.write(`  [mt] FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(error instanceof SmokeCheckError ? 2 : 1);
  }
}

await main();
