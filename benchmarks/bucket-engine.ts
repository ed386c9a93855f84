/**
 * The layout-6 modules themselves (not a prototype): lib/wasm/read-bucket.wat
 * for get and lib/wasm/write-bucket.wat for set, over a bucket table of
 * int32 keys and values laid out as lib/bucket.ts defines, behind the same JS
 * side as SharedFlatMap's fast paths (get: SharedFlatMap.get's fast path line
 * for line; set: int32 checks, fmix32(key ^ seed), one wasm call, the result
 * test). Timed against `Map` and today's library in
 * the same child processes, 100k random int32 keys. Before SharedFlatMap uses
 * buckets (docs/layout6.md), this is what says whether the layout meets
 * BRIEF §6's get target.
 *
 * Operations, each per child, implementations interleaved round by round:
 * - "get hit": lookups of present keys in random order; the library is the
 *   default map grown to 100k (as the suite times it), the bucket table at
 *   lane load LOAD;
 * - "set new": 100k inserts into an empty table whose pages were touched
 *   before (the library presized to 100k and `clear()`ed, which alternates
 *   between two regions; the bucket table zeroed; `Map`: a new Map);
 * - "overwrite": sets of present keys.
 * Each child checks, before timing, that the bucket table and the library
 * hold what `Map` holds.
 *
 * Not benchmark.js, for the reason given in benchmarks/buckets.ts. Run:
 * `npm run bench:bucket-engine` (builds first). Writes
 * benchmarks/results/bucket-engine.{json,md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SharedFlatMap } from '../lib/index.js';
import { fmix32 } from '../lib/hashers/murmur3.js';
import { FIXED_INTS, T_REMAINING, TABLE_HEADER_INTS, insertBudget } from '../lib/layout.js';
import { BUCKET_INTS, bucketGeometry } from '../lib/bucket.js';
import { WASM_PAGE_BYTES, createSharedMemory } from '../lib/memory.js';
import { ORDERED_PLAIN_LOADS } from '../lib/seqlock.js';
import { recordTag, writerRecordAt } from '../lib/writers.js';
import { instantiateBucketReadPath } from '../lib/wasm/bucket-read-path.js';
import { PUT_SLOW, instantiateBucketWritePath } from '../lib/wasm/bucket-write-path.js';
import { checkAgainstMap, contextLines, rangeText, runAlternating, runChildScript, type Store } from './prototype-harness.js';
import { median } from './measure.js';
import { Prng, distinctKeys, sampleKeys, shuffled } from './prng.js';

const ENTRIES = 100_000;
const WARM_ROUNDS = 2;
const CHILD_ROUNDS = 9;
const PARENT_ROUNDS = 5;
const SEED = 6061;
const HASH_SEED = 0x5eed;
/** Lane loads of the bucket table: entries ÷ (buckets × lanes). */
const LOADS = [0.8, 0.6] as const;
const OPS = ['get-hit', 'set-new', 'overwrite'] as const;
type Op = (typeof OPS)[number];
/** The table region starts past the map's fixed part, as a real map's first table does. */
const TABLE_BASE = FIXED_INTS;

/** A bucket table of int32 keys and values driven by the layout-6 wasm modules; generation 0, one writer. */
class BucketEngine implements Store {
  readonly buckets: number;
  private readonly lanes = bucketGeometry('int32', 'int32').lanes;
  private readonly words: Int32Array;
  private readonly first = TABLE_BASE + TABLE_HEADER_INTS;
  private readonly probeI32;
  private readonly putI32;
  // The fields SharedFlatMap.get reads (see `get`).
  private readonly fastGet = true;
  private readonly murmurSeed = HASH_SEED;
  private readonly callSite = 0;
  private readonly tableFirst: number;
  private readonly tableBuckets: number;
  private readonly gen = 0;

  constructor(load: number) {
    this.buckets = Math.ceil(ENTRIES / (this.lanes * load));
    const bytes = Math.ceil(((this.first + this.buckets * BUCKET_INTS) * 4) / WASM_PAGE_BYTES) * WASM_PAGE_BYTES;
    const memory = createSharedMemory(bytes, bytes).memory;
    this.words = new Int32Array(memory.buffer);
    this.probeI32 = instantiateBucketReadPath(memory).getI32;
    this.tableFirst = this.first;
    this.tableBuckets = this.buckets;
    const write = instantiateBucketWritePath(memory);
    write.configure(0, ORDERED_PLAIN_LOADS ? 0 : 1);
    const rec = writerRecordAt(0);
    write.setWriter(rec, recordTag(rec));
    this.putI32 = write.putI32;
    this.clear();
  }

  /** Empty, its pages touched before; an insert budget for 80 % of the lanes. */
  clear(): void {
    this.words.fill(0, TABLE_BASE, this.first + this.buckets * BUCKET_INTS);
    this.words[TABLE_BASE + T_REMAINING] = insertBudget(this.buckets * this.lanes);
  }

  set(key: number, value: number): this {
    if (typeof key !== 'number' || (key | 0) !== key) throw new TypeError('not an int32 key');
    if (typeof value !== 'number' || (value | 0) !== value) throw new TypeError('not an int32 value');
    if (this.putI32(key, fmix32(key ^ HASH_SEED), value, this.first, this.buckets, 0, TABLE_BASE) === PUT_SLOW) {
      throw new Error('slow path in a table only this thread writes');
    }
    return this;
  }

  /**
   * SharedFlatMap.get's fast path line for line (lib/shared-flat-map.ts): the
   * `fastGet` test, fmix32 with the seed from a field, the call-site switch,
   * the table geometry and generation from fields, the probe held in a field,
   * READ_MISS as a literal. So buckets / library below is the probe alone.
   */
  get(key: number): number | undefined {
    if (this.fastGet) {
      const k = key;
      if (typeof k !== 'number' || (k | 0) !== k) throw new TypeError('not an int32 key');
      const hash = fmix32(k ^ this.murmurSeed);
      const site = this.callSite;
      const r =
        site === 0
          ? this.probeI32(k, hash, this.tableFirst, this.tableBuckets, this.gen)
          : site === 1
            ? this.probeI32(k, hash, this.tableFirst, this.tableBuckets, this.gen)
            : site === 2
              ? this.probeI32(k, hash, this.tableFirst, this.tableBuckets, this.gen)
              : this.probeI32(k, hash, this.tableFirst, this.tableBuckets, this.gen);
      if (r < /* READ_MISS */ 4294967296) return r;
      if (r === /* READ_MISS */ 4294967296) return undefined;
      throw new Error('RETRY in a table nobody else writes');
    }
    throw new Error('not the fast path');
  }
}

/** A timing loop with its own source text, so each implementation keeps its own call feedback; ns per op. */
function timer(label: string, op: Op): (impl: Store, keys: Int32Array, values: Int32Array) => number {
  const body = op === 'get-hit' ? 'sum += impl.get(keys[i]);' : 'impl.set(keys[i], values[i]);';
  return new Function(
    'impl',
    'keys',
    'values',
    `// ${label} ${op}
    let sum = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < keys.length; i++) ${body}
    const ns = Number(process.hrtime.bigint() - t0) / keys.length;
    if (sum === -1) console.log(sum);
    return ns;`,
  ) as (impl: Store, keys: Int32Array, values: Int32Array) => number;
}

interface ChildResult {
  op: Op;
  load: number;
  mapNs: number;
  libraryNs: number;
  bucketsNs: number;
  libraryRatio: number;
  bucketsRatio: number;
}


function child(op: Op, load: number): ChildResult {
  const prng = new Prng(SEED);
  const keys = distinctKeys(prng, ENTRIES);
  const values = keys.map((_, i) => i);
  const again = shuffled(prng, keys);
  const hits = sampleKeys(prng, keys, ENTRIES);
  const buckets = new BucketEngine(load);
  const library = new SharedFlatMap<number, number>(op === 'get-hit' ? { keys: 'int32', values: 'int32' } : { keys: 'int32', values: 'int32', capacity: ENTRIES });
  let map = new Map<number, number>();
  for (let i = 0; i < keys.length; i++) {
    map.set(keys[i] as number, i);
    library.set(keys[i] as number, i);
    buckets.set(keys[i] as number, i);
  }
  checkAgainstMap('library', map, library, keys);
  checkAgainstMap('buckets', map, buckets, keys);
  const timers = { Map: timer('Map', op), library: timer('library', op), buckets: timer('buckets', op) };
  const ns: Record<keyof typeof timers, number[]> = { Map: [], library: [], buckets: [] };
  for (let round = 0; round < WARM_ROUNDS + CHILD_ROUNDS; round++) {
    if (op === 'set-new') {
      map = new Map();
      library.clear();
      buckets.clear();
    }
    const k = op === 'get-hit' ? hits : op === 'set-new' ? keys : again;
    const impls: Record<keyof typeof timers, Store> = { Map: map, library, buckets };
    const order = (round % 2 === 0 ? ['Map', 'library', 'buckets'] : ['buckets', 'library', 'Map']) as (keyof typeof timers)[];
    const times: Partial<Record<keyof typeof timers, number>> = {};
    for (const name of order) times[name] = timers[name](impls[name], k, values);
    if (round >= WARM_ROUNDS) for (const name of order) ns[name].push(times[name] as number);
  }
  if (op !== 'get-hit') checkAgainstMap('buckets after the timed rounds', map, buckets, keys);
  const ratio = (of: number[]): number => median(of.map((t, i) => t / (ns.Map[i] as number)));
  return {
    op,
    load,
    mapNs: median(ns.Map),
    libraryNs: median(ns.library),
    bucketsNs: median(ns.buckets),
    libraryRatio: ratio(ns.library),
    bucketsRatio: ratio(ns.buckets),
  };
}

const fmt = (x: number, digits = 2): string => x.toFixed(digits);

function main(): void {
  const configs = OPS.flatMap((op) => LOADS.map((load) => ({ op, load })));
  const { runs, context } = runAlternating(
    configs,
    PARENT_ROUNDS,
    ({ op, load }) => runChildScript<ChildResult>(fileURLToPath(import.meta.url), [op, String(load)]),
    (round, { op, load }, r) =>
      console.log(`round ${round + 1}/${PARENT_ROUNDS} ${op}@${load}: Map ${fmt(r.mapNs, 1)} ns, library ${fmt(r.libraryRatio, 3)}x, buckets ${fmt(r.bucketsRatio, 3)}x`),
  );
  let md = `# Layout-6 bucket modules: int32 get and set, ${ENTRIES.toLocaleString('en-US')} entries\n\n`;
  md += contextLines(context, '`npm run bench:bucket-engine` (benchmarks/bucket-engine.ts; lib/wasm/read-bucket.wat and write-bucket.wat)');
  md += `- ${PARENT_ROUNDS} children per config, alternating order; each child: ${CHILD_ROUNDS} rounds of ${ENTRIES.toLocaleString('en-US')} operations per implementation, interleaved (order reversed every other round), after ${WARM_ROUNDS} warm-up rounds\n\n`;
  md += 'Ratios are time per operation ÷ `Map` in the same child (median over rounds, then median and range over children). "library" is today\'s SharedFlatMap (layout 5): grown to 100k for get, presized for set. "buckets" is the layout-6 modules at the given lane load.\n\n';
  md += '| operation | bucket lane load | buckets / Map (median) | range | library / Map (median, same children) | range | Map ns/op (median) |\n|---|---:|---:|---:|---:|---:|---:|\n';
  const summary = configs.map(({ op, load }) => {
    const mine = runs.filter((r) => r.op === op && r.load === load);
    const b = mine.map((r) => r.bucketsRatio);
    const l = mine.map((r) => r.libraryRatio);
    const row = { op, load, bucketsRatio: median(b), libraryRatio: median(l), mapNs: median(mine.map((r) => r.mapNs)) };
    md += `| ${op} | ${load} | **${fmt(row.bucketsRatio, 3)}×** | ${rangeText(b, 3)} | ${fmt(row.libraryRatio, 3)}× | ${rangeText(l, 3)} | ${fmt(row.mapNs, 1)} |\n`;
    return row;
  });
  mkdirSync('benchmarks/results', { recursive: true });
  writeFileSync('benchmarks/results/bucket-engine.json', `${JSON.stringify({ date: context.date, commit: context.commit, node: process.version, cpu: context.cpu, loadStart: context.loadStart, loadEnd: context.loadEnd, summary, runs }, null, 2)}\n`);
  writeFileSync('benchmarks/results/bucket-engine.md', md);
  console.log(md);
}

if (process.argv[2] === '--child') {
  const op = process.argv[3] as Op;
  if (!OPS.includes(op)) throw new Error(`unknown operation ${op}`);
  process.stdout.write(JSON.stringify(child(op, Number(process.argv[4]))));
} else {
  main();
}
