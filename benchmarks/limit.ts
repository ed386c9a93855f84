/**
 * A map at its maxBytes under churn (docs/design.md §3, "Balanced tables at
 * maxBytes"; docs/benchmarks.md, "At maxBytes").
 *
 * For each map of CONFIGS, with int32 keys and no arena blocks:
 * - `first fill`: keys 0, 1, 2, ... until `trySet` answers 'full';
 * - `largest churn window`: the most live keys (to WINDOW_STEP) with which a
 *   churn (insert a new key, delete the oldest) runs WINDOW_CHECK_INSERTS
 *   inserts without 'full', found by bisection;
 * - for each share of SHARES of the first fill: a map filled to FULL, then
 *   cut to that share, churned by benchmark.js in calls of PAIRS_PER_CALL
 *   insert + delete-oldest pairs, against a `Map` that holds the same live
 *   keys and churns the same way, in the same process (measure.ts measureAll:
 *   a warm-up, then ROUNDS interleaved rounds, Map, flatshare, flatshare,
 *   Map, ...); ns per pair is the median of the rounds' means. Also resizes per 1,000 pairs (the table generation's advance),
 *   which is what a churn at the limit pays for.
 * Before anything is timed, each churn runs CHECK_PAIRS pairs and the map is
 * checked: its size is the live count and every live key holds its value (a
 * churn that answers 'full' is reported as FULL, not timed).
 *
 * Run: `npm run bench:limit` (builds first, ~1 min). Writes
 * benchmarks/results/limit.{json,md}, with the commit measured.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { SharedFlatMap } from '../lib/index.js';
import { WASM_PAGE_BYTES } from '../lib/memory.js';
import { gitCommit } from './git.js';
import type { Measurement } from './types.js';
import { formatLoad, measureAll, median, type Timed } from './measure.js';

interface Config {
  readonly name: string;
  readonly values: 'int32' | 'float64';
  readonly maxBytes: number;
  /** Expected entries at creation; undefined: the default capacity. */
  readonly capacity: number | undefined;
}

const MIB = 1 << 20;
const CONFIGS: readonly Config[] = [
  { name: 'int32 -> int32, 1 MiB, default capacity', values: 'int32', maxBytes: MIB, capacity: undefined },
  { name: 'int32 -> float64, 4 pages, capacity 8', values: 'float64', maxBytes: 4 * WASM_PAGE_BYTES, capacity: 8 },
];
/** Live shares of the first fill that the churns keep. */
const SHARES = [0.8, 0.9, 0.95] as const;
/** Insert + delete pairs per benchmark.js call. */
const PAIRS_PER_CALL = 1000;
/** benchmark.js maxTime per implementation, seconds, split over measure.ts's ROUNDS interleaved rounds. */
const MAX_TIME_S = 1.8;
/** benchmark.js samples per implementation, over all rounds. */
const MIN_SAMPLES = 15;
/** Pairs each churn runs (and checks) before it is timed. */
const CHECK_PAIRS = 20_000;
/** Inserts a churn window must survive to count; the bisection's step. */
const WINDOW_CHECK_INSERTS = 100_000;
const WINDOW_STEP = 25;
const PAIRS_PER_RESIZE_UNIT = 1000;

type Value = (key: number) => number;
const valueOf = (config: Config): Value => (config.values === 'int32' ? (k) => k ^ 0x5bd1 : (k) => k + 0.5);

function newMap(config: Config): SharedFlatMap<number, number> {
  return new SharedFlatMap<number, number>({
    keys: 'int32',
    values: config.values,
    maxBytes: config.maxBytes,
    ...(config.capacity === undefined ? {} : { capacity: config.capacity }),
  });
}

function firstFill(map: SharedFlatMap<number, number>, value: Value): number {
  let n = 0;
  while (map.trySet(n, value(n)) === 'ok') n++;
  return n;
}

/** True when a churn of `window` live keys runs WINDOW_CHECK_INSERTS inserts without 'full'. */
function churnRuns(config: Config, window: number): boolean {
  const map = newMap(config);
  const value = valueOf(config);
  for (let k = 0; k < WINDOW_CHECK_INSERTS; k++) {
    if (map.trySet(k, value(k)) !== 'ok') return false;
    if (k >= window) map.delete(k - window);
  }
  return true;
}

function largestWindow(config: Config, fill: number): number {
  let lo = 0;
  let hi = fill;
  while (hi - lo > WINDOW_STEP) {
    const mid = (lo + hi) >> 1;
    if (churnRuns(config, mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** What a churn does to a map: set a new key, delete the oldest live one. */
interface ChurnTarget {
  set(key: number, value: number): boolean;
  delete(key: number): void;
}

/** A churn of `ring.length` live keys: the ring holds them oldest first from `pos`. */
class Churn {
  private pos = 0;
  full = false;
  /** Pairs made so far. */
  done = 0;

  constructor(
    private readonly target: ChurnTarget,
    private readonly ring: Int32Array,
    private next: number,
    private readonly value: Value,
  ) {}

  pairs(count: number): void {
    const ring = this.ring;
    for (let p = 0; p < count; p++) {
      const key = this.next++;
      if (!this.target.set(key, this.value(key))) {
        this.full = true;
        return;
      }
      this.target.delete(ring[this.pos] as number);
      ring[this.pos] = key;
      this.pos = this.pos + 1 === ring.length ? 0 : this.pos + 1;
      this.done++;
    }
  }

  /** Every live key holds its value, and `size` is the live count. */
  check(get: (key: number) => number | undefined, size: number): string | undefined {
    if (size !== this.ring.length) return `size ${size}, want ${this.ring.length}`;
    for (const key of this.ring) if (get(key) !== this.value(key)) return `key ${key} holds ${get(key)}`;
    return undefined;
  }
}

interface ShareResult {
  share: number;
  live: number;
  /** ns per insert + delete pair, or null when the churn answered FULL. */
  flatshareNs: number | null;
  mapNs: number;
  ratio: number | null;
  resizesPer1000Pairs: number | null;
}

interface ConfigResult {
  name: string;
  maxBytes: number;
  firstFill: number;
  largestChurnWindow: number;
  windowShare: number;
  shares: ShareResult[];
}

function measureShare(config: Config, fill: number, share: number): ShareResult {
  const value = valueOf(config);
  const live = Math.floor(fill * share);
  const map = newMap(config);
  const filled = firstFill(map, value);
  if (filled !== fill) throw new Error(`${config.name}: the first fill took ${filled} keys, before ${fill}`);
  for (let k = live; k < fill; k++) map.delete(k);
  const ring = Int32Array.from({ length: live }, (_, i) => i);
  const flat = new Churn({ set: (k, v) => map.trySet(k, v) === 'ok', delete: (k) => void map.delete(k) }, ring, fill, value);
  const jsMap = new Map<number, number>();
  for (let k = 0; k < live; k++) jsMap.set(k, value(k));
  const mapRing = Int32Array.from({ length: live }, (_, i) => i);
  const js = new Churn({ set: (k, v) => (jsMap.set(k, v), true), delete: (k) => void jsMap.delete(k) }, mapRing, fill, value);

  flat.pairs(CHECK_PAIRS);
  js.pairs(CHECK_PAIRS);
  const jsProblem = js.check((k) => jsMap.get(k), jsMap.size);
  if (jsProblem !== undefined) throw new Error(`Map churn check: ${jsProblem}`);
  if (flat.full) return { share, live, flatshareNs: null, mapNs: Number.NaN, ratio: null, resizesPer1000Pairs: null };
  const flatProblem = flat.check((k) => map.get(k), map.size);
  if (flatProblem !== undefined) throw new Error(`${config.name} at ${share}: ${flatProblem}`);

  const genBefore = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen;
  const pairsBefore = flat.done;
  const timed = (churn: Churn): Timed => ({ batch: PAIRS_PER_CALL, minTime: undefined, fn: () => churn.pairs(PAIRS_PER_CALL), onCycle: () => {} });
  const [mapRun, flatRun] = measureAll(
    { name: `${config.name} ${share}`, maxTime: MAX_TIME_S, minSamples: MIN_SAMPLES, impls: ['Map', 'flatshare'], gcEachCycle: false },
    { flatshare: timed(flat), Map: timed(js) },
    { flatshare: 'flatshare', Map: 'Map' },
  ) as [Measurement, Measurement];
  // benchmark.js calls fn a variable number of times: count the pairs the timed calls made.
  const flatPairs = flat.done - pairsBefore;
  const gens = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen - genBefore;
  if (flat.full) return { share, live, flatshareNs: null, mapNs: median(mapRun.roundNsPerOp), ratio: null, resizesPer1000Pairs: null };
  const flatProblemAfter = flat.check((k) => map.get(k), map.size);
  if (flatProblemAfter !== undefined) throw new Error(`${config.name} at ${share}, after timing: ${flatProblemAfter}`);
  const f = median(flatRun.roundNsPerOp);
  const m = median(mapRun.roundNsPerOp);
  return { share, live, flatshareNs: f, mapNs: m, ratio: f / m, resizesPer1000Pairs: (gens * PAIRS_PER_RESIZE_UNIT) / flatPairs };
}

function main(): void {
  const started = new Date();
  const results: ConfigResult[] = [];
  for (const config of CONFIGS) {
    const fill = firstFill(newMap(config), valueOf(config));
    const window = largestWindow(config, fill);
    process.stderr.write(`  [limit] ${config.name}: first fill ${fill}, largest churn window ${window}\n`);
    const shares = SHARES.map((share) => measureShare(config, fill, share));
    for (const s of shares) {
      process.stderr.write(
        `  [limit]   ${s.share}: ${s.flatshareNs === null ? 'FULL' : `${s.flatshareNs.toFixed(0)} ns a pair, Map ${s.mapNs.toFixed(0)} (${s.ratio!.toFixed(2)}x), ${s.resizesPer1000Pairs!.toFixed(2)} resizes / 1,000 pairs`}\n`,
      );
    }
    results.push({ name: config.name, maxBytes: config.maxBytes, firstFill: fill, largestChurnWindow: window, windowShare: window / fill, shares });
  }
  const meta = {
    command: 'npm run bench:limit',
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    date: started.toISOString(),
    load: formatLoad(loadavg()),
    commit: gitCommit(),
  };
  mkdirSync('benchmarks/results', { recursive: true });
  writeFileSync('benchmarks/results/limit.json', `${JSON.stringify({ meta, results }, null, 2)}\n`);
  const lines = [
    `# A map at its maxBytes under churn`,
    '',
    `\`${meta.command}\` · Node ${meta.node} · ${meta.cpu} (${meta.cores} cores) · ${meta.date} · load ${meta.load} · commit ${meta.commit}`,
    '',
    '| map | first fill | largest churn window | live share | flatshare ns a pair | Map ns a pair | ratio | resizes / 1,000 pairs |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    r.shares.forEach((s, i) => {
      const head = i === 0 ? `| ${r.name} | ${r.firstFill} | ${r.largestChurnWindow} (${r.windowShare.toFixed(3)}) ` : '| | | ';
      lines.push(
        `${head}| ${s.share} (${s.live}) | ${s.flatshareNs === null ? 'FULL' : s.flatshareNs.toFixed(0)} | ${Number.isNaN(s.mapNs) ? '-' : s.mapNs.toFixed(0)} | ${s.ratio === null ? '-' : `${s.ratio.toFixed(2)}×`} | ${s.resizesPer1000Pairs === null ? '-' : s.resizesPer1000Pairs.toFixed(2)} |`,
      );
    });
  }
  writeFileSync('benchmarks/results/limit.md', `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
