/**
 * One benchmark case in a fresh process: `node build/benchmarks/case.js '<json>'`.
 *
 * run.ts starts one of these per (operation, size, read path), so JIT state
 * and heap from one case never reach another, and measures flatshare and Map
 * back to back in the same process, on identical keys, so their ratio is a
 * same-run ratio. The read path is fixed by the environment at module load
 * (FLATSHARE_STRICT_ATOMICS=1 selects the all-Atomics path).
 *
 * Before timing, a smoke check runs each workload once and checks that
 * flatshare and Map agree on every key the case uses; after timing, it checks
 * again. A disagreement exits with status 2. The result is printed as one JSON
 * line on stdout; progress goes to stderr.
 *
 * String-key jobs (`kind: 'string-timing'`) run string-case.ts the same way;
 * the bytes job also measures string -> string (string-case.ts runStringBytes).
 * The timing core (warm-up, interleaved rounds) is measure.ts.
 */
import { SharedFlatMap } from '../lib/index.js';
import { SmokeCheckError, log, measureAll } from './measure.js';
import { Prng, distinctKeys, sampleKeys, shuffled } from './prng.js';
import { runStringBytes, runStringTiming } from './string-case.js';
import type { BytesConfig, BytesOutput, BytesRow, CaseConfig, CaseOutput, ChildConfig } from './types.js';
import { TABLE_BUCKET_INTS } from '../lib/layout.js';
import {
  deleteFlatshare,
  deleteMap,
  getHitFlatshare,
  getHitMap,
  getMissFlatshare,
  getMissMap,
  overwriteFlatshare,
  overwriteMap,
  prefillFlatshare,
  prefillMap,
  readSink,
  setNewFlatshare,
  setNewMap,
  type CaseData,
  type Workload,
} from './workloads.js';

/** Operations per invocation for get hit, get miss and overwrite. */
const BATCH = 1000;
/** Lookup arrays hold at least this many keys (and at most LOOKUP_MAX), so a batch does not keep re-reading the same few slots. */
const LOOKUP_MIN = 1 << 16;
const LOOKUP_MAX = 1 << 20;
/**
 * Entries in the pool of a consuming operation (set new, delete): enough
 * operations per benchmark.js cycle for >= ~0.5 ms of timed work (workloads.ts).
 * At 1k entries that means 200 maps, so delete and set-new at 1k run over a
 * ~200k-entry working set; see docs/benchmarks.md.
 */
const POOL_ENTRIES = 200_000;
/** gc() after every cycle (untimed) when one invocation inserts this many entries: keeps dead 100k/1M maps from being collected inside a timed invocation. */
const GC_EVERY_CYCLE_FROM = 100_000;
const MIB = 1 << 20;


function roundUp(n: number, multiple: number): number {
  return Math.ceil(n / multiple) * multiple;
}

function makeData(config: CaseConfig): CaseData {
  const prng = new Prng(config.seed);
  const size = config.size;
  const lookups = roundUp(Math.min(LOOKUP_MAX, Math.max(LOOKUP_MIN, size)), BATCH);
  const insert = config.op === 'set-new';
  const present = insert ? new Int32Array(0) : distinctKeys(prng, size);
  const presentSet = new Set(present);
  const deleteBatch = Math.min(BATCH, Math.floor(size / 2));
  return {
    present,
    hits: config.op === 'get-hit' || config.op === 'overwrite' ? sampleKeys(prng, present, lookups) : new Int32Array(0),
    misses: config.op === 'get-miss' ? distinctKeys(prng, lookups, presentSet) : new Int32Array(0),
    deleteOrder: config.op === 'delete' ? shuffled(prng, Int32Array.from(present.keys())) : new Int32Array(0),
    insert: insert ? distinctKeys(prng, size) : new Int32Array(0),
    batch: BATCH,
    deleteBatch,
    deleteReplicas: Math.max(1, Math.ceil(POOL_ENTRIES / size)),
    setNewMaps: Math.max(2, Math.ceil(POOL_ENTRIES / size)),
    // Room for every table on the way from the default capacity to `size` (< 64 B/entry in all),
    // without reserving the default 1 GiB for each of the thousands of maps set-new creates.
    setNewMaxBytes: Math.max(16 * MIB, roundUp(size * 128, MIB)),
  };
}

function workloads(config: CaseConfig, data: CaseData): { flatshare: Workload; Map: Workload } {
  switch (config.op) {
    case 'get-hit':
      return { flatshare: getHitFlatshare(prefillFlatshare(data), data), Map: getHitMap(prefillMap(data), data) };
    case 'get-miss':
      return { flatshare: getMissFlatshare(prefillFlatshare(data), data), Map: getMissMap(prefillMap(data), data) };
    case 'overwrite':
      return { flatshare: overwriteFlatshare(prefillFlatshare(data), data), Map: overwriteMap(prefillMap(data), data) };
    case 'delete':
      return { flatshare: deleteFlatshare(data), Map: deleteMap(data) };
    case 'set-new':
      return { flatshare: setNewFlatshare(data), Map: setNewMap(data) };
  }
}

/**
 * flatshare and Map must agree on every key the case uses: present keys,
 * lookup keys, absent keys and inserted keys, and on size. `valuesMayDiffer`
 * (overwrite after timing, where the two ran different invocation counts)
 * compares presence only.
 */
function smokeCheck(stage: string, config: CaseConfig, data: CaseData, fs: Workload, map: Workload, valuesMayDiffer = false): void {
  const expectedSize = config.op === 'set-new' ? data.insert.length : data.present.length;
  if (fs.size() !== map.size() || fs.size() !== expectedSize) {
    throw new SmokeCheckError(`${stage}: size flatshare=${fs.size()} Map=${map.size()} expected=${expectedSize}`);
  }
  let checked = 0;
  for (const keys of [data.present, data.hits, data.misses, data.insert]) {
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as number;
      const a = fs.lookup(k);
      const b = map.lookup(k);
      const agree = valuesMayDiffer ? (a === undefined) === (b === undefined) : a === b;
      if (!agree) throw new SmokeCheckError(`${stage}: key ${k}: flatshare.get=${a} Map.get=${b}`);
      checked++;
    }
  }
  log(`${stage}: flatshare and Map agree on ${checked} lookups, size ${expectedSize}`);
}

function runTiming(config: CaseConfig, readPath: 'plain' | 'strict'): CaseOutput {
  const started = performance.now();
  const data = makeData(config);
  const w = workloads(config, data);
  // One untimed invocation of each, then the check: it exercises exactly the measured code paths.
  w.flatshare.fn();
  w.flatshare.onCycle();
  w.Map.fn();
  w.Map.onCycle();
  smokeCheck('smoke check before timing', config, data, w.flatshare, w.Map);

  const spec = {
    name: `${config.op} ${config.size}`,
    maxTime: config.maxTime,
    minSamples: config.minSamples,
    impls: config.impls,
    gcEachCycle: config.op === 'set-new' && data.insert.length >= GC_EVERY_CYCLE_FROM,
  };
  const measurements = measureAll(spec, w, { Map: 'Map', flatshare: readPath === 'strict' ? 'flatshare-strict' : 'flatshare' });
  smokeCheck('check after timing', config, data, w.flatshare, w.Map, config.op === 'overwrite');
  return {
    kind: 'timing',
    op: config.op,
    size: config.size,
    seed: config.seed,
    readPath,
    measurements,
    sink: readSink(),
    wallSeconds: (performance.now() - started) / 1000,
  };
}

/** Shared bytes per entry, int32 -> int32: buffer.byteLength / entries. */
function runBytes(config: BytesConfig): Omit<BytesOutput, 'stringRows'> {
  const rows: BytesRow[] = [];
  for (const size of config.sizes) {
    const keys = distinctKeys(new Prng(config.seed), size);
    const presized = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: size });
    const grown = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
    for (let i = 0; i < size; i++) {
      presized.set(keys[i] as number, i);
      grown.set(keys[i] as number, i);
    }
    if (presized.size !== size || grown.size !== size) throw new SmokeCheckError(`bytes: size ${presized.size}/${grown.size} != ${size}`);
    const internals = SharedFlatMap.unsafeExposeInternals(grown as SharedFlatMap<unknown, unknown>);
    const tableBytes = (internals.table.first - internals.table.base + internals.table.buckets * TABLE_BUCKET_INTS) * 4;
    const presizedBytes = presized.handle.memory.buffer.byteLength;
    const grownBytes = grown.handle.memory.buffer.byteLength;
    rows.push({
      size,
      presizedBytes,
      presizedBytesPerEntry: presizedBytes / size,
      grownBytes,
      grownBytesPerEntry: grownBytes / size,
      grownTableBytesPerEntry: tableBytes / size,
    });
    log(`bytes ${size}: presized ${(presizedBytes / size).toFixed(2)} B/entry, grown ${(grownBytes / size).toFixed(2)} B/entry`);
  }
  return { kind: 'bytes', rows };
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (arg === undefined) {
    process.stderr.write("usage: node build/benchmarks/case.js '<json config>'\n");
    process.exit(64);
  }
  const config = JSON.parse(arg) as ChildConfig;
  const env = process.env.FLATSHARE_STRICT_ATOMICS;
  const readPath = env === '1' || env === 'true' ? 'strict' : 'plain';
  try {
    const output =
      config.kind === 'bytes'
        ? { ...runBytes(config), stringRows: runStringBytes(config.sizes, config.seed) }
        : config.kind === 'string-timing'
          ? await runStringTiming(config, readPath)
          : runTiming(config, readPath);
    process.stdout.write(`${JSON.stringify(output)}\n`);
  } catch (error) {
    process.stderr.write(`  [case] FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(error instanceof SmokeCheckError ? 2 : 1);
  }
}

await main();
