/**
 * What deletes would cost the cache-line bucket layout (docs/design.md §10,
 * "Costs to measure before building it"), measured before anyone builds it:
 * the lane-state prototype (benchmarks/prototypes/bucket-lanes.wat getL, putL,
 * deleteL, NOT the library; JS side in benchmarks/lane-table.ts) against
 * `Map` and the library's SharedFlatMap, int32 keys and values, 100k entries,
 * on a table that has seen churn (deletes and fresh inserts), so that it holds
 * TOMBSTONE lanes, a key has to be looked for past them, and chains are longer
 * than after a fresh fill.
 *
 * Each child process, for one configuration (the prototype's load, entries ÷
 * lanes after the fill, and its used-lane share at the end of the churn), builds from one seed ENTRIES distinct random int32 keys, a `Map`, the
 * library presized (`capacity: ENTRIES`, no resize during the fill) and ONE
 * prototype table (a second one would share the wasm call sites of
 * LaneTable, see benchmarks/buckets.ts). Then, for both:
 * 1. fill (untimed), check all three against `Map` (hits, absent keys, size);
 *    phase "fresh": time the four operations below;
 * 2. churn (untimed): CHURN rounds of "delete a random present key, insert a
 *    fresh key", the same keys for all three; check all three against `Map`
 *    (present keys, every deleted key, absent keys, size); phase "churned":
 *    time the four operations again.
 * The churn is bounded by the prototype's insert budget, which stands in for
 * the maximum load a layout-6 table would migrate at: REMAINING =
 * floor(lanes × maxUsed) and CHURN = REMAINING − ENTRIES, so the churn
 * ends with the budget exactly used up and (FULL + TOMBSTONE) lanes =
 * maxUsed of the lanes (the prototype has no migration: an insert
 * into an EMPTY lane past that would fail, and throws here). Deleting and
 * re-inserting a present key revives its own lane, which takes no budget, so
 * the timed operations never need any. The library sees the same operations
 * and may resize during the churn (its budget is 0.8 of its slots, used up
 * by the fill): the report gives its capacity and generation before and
 * after, and the tombstone share of both tables.
 *
 * Operations, one after the other in this order (reads first, so that the
 * fresh reads see tables, `Map` included, that no delete has touched), each
 * after an untimed pass of it that is checked against `Map`; implementations
 * interleaved round by round, each timing loop with its own source text:
 * - "get hit": PASSES passes over LOOKUPS keys sampled from the present ones;
 * - "get miss": PASSES passes over LOOKUPS keys never inserted;
 * - "overwrite": a set of every present key, in random order;
 * - "delete+reinsert": PAIRS pairs `delete(k); set(k, v)` of present keys
 *   (time per pair; the table is back where it was after each pair).
 * Ratios are time ÷ `Map` (and prototype ÷ library) in the same round,
 * median over rounds; a final check against `Map` ends each phase. The parent
 * runs every configuration PARENT_ROUNDS times in alternating order and reports the
 * median and range over children.
 *
 * Not benchmark.js, for the reason given in benchmarks/buckets.ts. Run:
 * `npm run bench:bucket-churn` (builds first). Writes
 * benchmarks/results/bucket-churn.{json,md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SharedFlatMap } from '../lib/index.js';
import { FULL, STATE_MASK, TOMBSTONE } from '../lib/seqlock.js';
import { BUCKET_LANES, LaneTable, type LaneCensus } from './lane-table.js';
import { contextLines, lookupTimer, rangeText, runAlternating, runChildScript, type Getter } from './prototype-harness.js';
import { median } from './measure.js';
import { Prng, distinctKeys, sampleKeys, shuffled } from './prng.js';

const ENTRIES = 100_000;
const LOOKUPS = 100_000;
/** Passes over LOOKUPS per timed get sample. */
const PASSES = 3;
/** delete+reinsert pairs per timed sample. */
const PAIRS = 50_000;
const WARM_ROUNDS = 2;
const CHILD_ROUNDS = 9;
const PARENT_ROUNDS = 5;
const SEED = 4244;
/**
 * Configurations: the prototype's load after the fill (entries ÷ (buckets ×
 * BUCKET_LANES)) and its (FULL + TOMBSTONE) lanes ÷ lanes at the end of the
 * churn (its insert budget). 0.8 is today's maximum load (slots), the point
 * at which a table with the same rule would migrate; 0.9 is past it.
 */
const CONFIGS = [
  { load: 0.6, maxUsed: 0.8 },
  { load: 0.6, maxUsed: 0.9 },
  { load: 0.8, maxUsed: 0.9 },
] as const;
type Config = (typeof CONFIGS)[number];
const PHASES = ['fresh', 'churned'] as const;
type Phase = (typeof PHASES)[number];
const OPS = ['get-hit', 'get-miss', 'overwrite', 'delete+reinsert'] as const;
type Op = (typeof OPS)[number];
const IMPLS = ['Map', 'flatshare', 'proto'] as const;
type Impl = (typeof IMPLS)[number];
/** Values of churn inserts start here (fill values are 0 .. ENTRIES - 1). */
const CHURN_VALUE_BASE = ENTRIES;
/** Value ranges of the timed writes, disjoint from the fill's and the churn's (± base + i). */
const OVERWRITE_VALUE_BASE = 2 * ENTRIES;
const PAIR_VALUE_BASE = 3 * ENTRIES;

/** Map-like int32 store: what every timing loop calls. */
interface Store extends Getter {
  set(k: number, v: number): unknown;
  delete(k: number): boolean;
  readonly size: number;
}

/** `impl.set(keys[i], values[i])` for every i, own source text; ns per set. */
function setTimer(label: string): (impl: Store, keys: Int32Array, values: Int32Array) => number {
  return new Function(
    'impl',
    'keys',
    'values',
    `// ${label}
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < keys.length; i++) impl.set(keys[i], values[i]);
    return Number(process.hrtime.bigint() - t0) / keys.length;`,
  ) as (impl: Store, keys: Int32Array, values: Int32Array) => number;
}

/** `impl.delete(keys[i]); impl.set(keys[i], values[i])` for every i, own source text; ns per pair. */
function pairTimer(label: string): (impl: Store, keys: Int32Array, values: Int32Array) => number {
  return new Function(
    'impl',
    'keys',
    'values',
    `// ${label}
    let gone = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < keys.length; i++) {
      if (impl.delete(keys[i])) gone++;
      impl.set(keys[i], values[i]);
    }
    const ns = Number(process.hrtime.bigint() - t0) / keys.length;
    if (gone !== keys.length) throw new Error('${label}: a delete of a present key returned false');
    return ns;`,
  ) as (impl: Store, keys: Int32Array, values: Int32Array) => number;
}

interface TableState {
  /** Prototype lane states and OVERFLOW buckets. */
  proto: LaneCensus;
  protoRemaining: number;
  /** Library: slots, their states, generation. */
  flatCapacity: number;
  flatFull: number;
  flatTombstone: number;
  flatGen: number;
}

interface OpResult {
  phase: Phase;
  op: Op;
  mapNs: number;
  flatshareNs: number;
  protoNs: number;
  flatshareRatio: number;
  protoRatio: number;
  /** Median over rounds of prototype time ÷ flatshare time. */
  protoVsFlatshare: number;
}

interface ChildResult {
  load: number;
  maxUsed: number;
  buckets: number;
  churn: number;
  /** Before the fresh phase, after it (before the churn), after the churn. */
  fresh: TableState;
  beforeChurn: TableState;
  churned: TableState;
  ops: OpResult[];
}

function libraryState(flat: SharedFlatMap<number, number>): { capacity: number; full: number; tombstone: number; gen: number } {
  const { words, table, slotInts, gen } = SharedFlatMap.unsafeExposeInternals(flat as SharedFlatMap<unknown, unknown>);
  let full = 0;
  let tombstone = 0;
  for (let i = 0; i < table.capacity; i++) {
    const state = (words[table.slots + i * slotInts] as number) & STATE_MASK;
    if (state === FULL) full++;
    else if (state === TOMBSTONE) tombstone++;
  }
  return { capacity: table.capacity, full, tombstone, gen };
}

function stateOf(proto: LaneTable, flat: SharedFlatMap<number, number>): TableState {
  const lib = libraryState(flat);
  return { proto: proto.census(), protoRemaining: proto.remaining, flatCapacity: lib.capacity, flatFull: lib.full, flatTombstone: lib.tombstone, flatGen: lib.gen };
}

/** Every store answers like `want` for `present`, `gone` (absent) and `absent` keys, and has its size. */
function check(what: string, want: Map<number, number>, stores: Record<string, Store>, present: Int32Array, absent: Int32Array, gone: readonly number[] = []): void {
  for (const [name, got] of Object.entries(stores)) {
    if (got.size !== want.size) throw new Error(`${what}: ${name} holds ${got.size} entries, Map ${want.size}`);
    for (let i = 0; i < present.length; i++) {
      const k = present[i] as number;
      if (got.get(k) !== want.get(k)) throw new Error(`${what}: ${name}: key ${k} holds ${got.get(k)}, Map ${want.get(k)}`);
    }
    for (const keys of [absent, gone]) {
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as number;
        if (want.has(k)) throw new Error(`${what}: Map holds ${k}, which should be absent`);
        if (got.get(k) !== undefined) throw new Error(`${what}: ${name}: absent key ${k} holds ${got.get(k)}`);
      }
    }
  }
}

async function child({ load, maxUsed }: Config): Promise<ChildResult> {
  const prng = new Prng(SEED);
  const keys = distinctKeys(prng, ENTRIES);
  const buckets = Math.ceil(ENTRIES / (BUCKET_LANES * load));
  const budget = Math.floor(buckets * BUCKET_LANES * maxUsed);
  const churn = budget - ENTRIES;
  if (churn <= 0) throw new Error(`load ${load}: no room for churn below a used-lane share of ${maxUsed}`);
  const fresh = distinctKeys(prng, churn, new Set(keys));
  const absent = distinctKeys(prng, LOOKUPS, new Set([...keys, ...fresh]));
  const proto = await new LaneTable(buckets).init();
  proto.clear(budget);
  const flat = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: ENTRIES });
  const map = new Map<number, number>();
  const stores: Record<Impl, Store> = { Map: map, flatshare: flat, proto };
  const checked = { flatshare: flat, proto };
  for (let i = 0; i < keys.length; i++) for (const s of Object.values(stores)) s.set(keys[i] as number, i);
  check('after the fill', map, checked, keys, absent);

  const timers = Object.fromEntries(
    IMPLS.map((impl) => [impl, { set: setTimer(`${impl} set`), pair: pairTimer(`${impl} delete+reinsert`) }]),
  ) as Record<Impl, { set: ReturnType<typeof setTimer>; pair: ReturnType<typeof pairTimer> }>;
  const ops: OpResult[] = [];

  /** One phase: the four operations over `live` (the present keys), untimed pass + check first. */
  const timePhase = (phase: Phase, live: Int32Array, gone: readonly number[]): void => {
    const hits = sampleKeys(prng, live, LOOKUPS);
    const order = shuffled(prng, live);
    const pairKeys = shuffled(prng, live).subarray(0, PAIRS);
    const valuesA = order.map((_, i) => -OVERWRITE_VALUE_BASE - i);
    const valuesB = order.map((_, i) => OVERWRITE_VALUE_BASE + i);
    const pairValues = pairKeys.map((_, i) => -PAIR_VALUE_BASE - i);
    const pairValuesB = pairKeys.map((_, i) => PAIR_VALUE_BASE + i);
    const gets = Object.fromEntries(
      IMPLS.flatMap((impl) => [
        [`${impl} hit`, lookupTimer(`${phase} ${impl} get hit`, stores[impl], hits, PASSES)],
        [`${impl} miss`, lookupTimer(`${phase} ${impl} get miss`, stores[impl], absent, PASSES)],
      ]),
    ) as Record<string, () => number>;
    const ns: Record<Op, Record<Impl, number[]>> = Object.fromEntries(
      OPS.map((op) => [op, { Map: [], flatshare: [], proto: [] }]),
    ) as unknown as Record<Op, Record<Impl, number[]>>;
    // The operations one after the other (reads first, so that the fresh reads see
    // tables no delete has touched, `Map` included), each after an untimed pass of
    // it that is checked (plain loops there, not the timers: their call sites
    // would see every store).
    for (const op of OPS) {
      if (op === 'overwrite') {
        for (const s of Object.values(stores)) for (let i = 0; i < order.length; i++) s.set(order[i] as number, valuesA[i] as number);
      } else if (op === 'delete+reinsert') {
        for (const s of Object.values(stores)) {
          for (let i = 0; i < pairKeys.length; i++) {
            if (!s.delete(pairKeys[i] as number)) throw new Error(`${phase}: a delete of present key ${pairKeys[i]} returned false`);
            s.set(pairKeys[i] as number, pairValues[i] as number);
          }
        }
      }
      check(`${phase}: before timing ${op}`, map, checked, live, absent, gone);
      for (let round = 0; round < WARM_ROUNDS + CHILD_ROUNDS; round++) {
        const even = round % 2 === 0;
        for (const impl of IMPLS) {
          const s = stores[impl];
          const t =
            op === 'get-hit'
              ? (gets[`${impl} hit`] as () => number)()
              : op === 'get-miss'
                ? (gets[`${impl} miss`] as () => number)()
                : op === 'overwrite'
                  ? timers[impl].set(s, order, even ? valuesB : valuesA)
                  : timers[impl].pair(s, pairKeys, even ? pairValuesB : pairValues);
          if (round >= WARM_ROUNDS) ns[op][impl].push(t);
        }
      }
    }
    check(`${phase}: after the timed rounds`, map, checked, live, absent, gone);
    for (const op of OPS) {
      const t = ns[op];
      const ratio = (of: number[]): number => median(of.map((x, i) => x / (t.Map[i] as number)));
      ops.push({
        phase,
        op,
        mapNs: median(t.Map),
        flatshareNs: median(t.flatshare),
        protoNs: median(t.proto),
        flatshareRatio: ratio(t.flatshare),
        protoRatio: ratio(t.proto),
        protoVsFlatshare: median(t.proto.map((x, i) => x / (t.flatshare[i] as number))),
      });
    }
  };

  const freshState = stateOf(proto, flat);
  timePhase('fresh', keys, []);
  const beforeChurn = stateOf(proto, flat);

  // Churn: delete a random present key, insert a fresh one, in all three.
  const live = keys.slice();
  const gone: number[] = [];
  for (let r = 0; r < churn; r++) {
    const j = prng.below(ENTRIES);
    const victim = live[j] as number;
    const k = fresh[r] as number;
    for (const [name, s] of Object.entries(stores)) {
      if (!s.delete(victim)) throw new Error(`churn ${r}: ${name} did not delete ${victim}`);
      s.set(k, CHURN_VALUE_BASE + r);
    }
    live[j] = k;
    gone.push(victim);
  }
  const churnedState = stateOf(proto, flat);
  if (churnedState.protoRemaining !== 0) throw new Error(`prototype budget after the churn: ${churnedState.protoRemaining}, expected 0`);
  const stillGone = gone.filter((k) => !map.has(k));
  check('after the churn', map, checked, live, absent, stillGone);
  timePhase('churned', live, stillGone);
  return { load, maxUsed, buckets, churn, fresh: freshState, beforeChurn, churned: churnedState, ops };
}

const fmt = (x: number, digits = 2): string => x.toFixed(digits);
const range = (xs: number[]): string => rangeText(xs, 3);
const PERCENT = 100;
const pct = (part: number, whole: number): string => `${((PERCENT * part) / whole).toFixed(1)} %`;

function main(): void {
  const { runs, context } = runAlternating(
    CONFIGS,
    PARENT_ROUNDS,
    (config) => runChildScript<ChildResult>(fileURLToPath(import.meta.url), [String(CONFIGS.indexOf(config))]),
    (round, { load, maxUsed }, r) =>
      console.log(
        `round ${round + 1}/${PARENT_ROUNDS} load ${load} → used ${maxUsed}: ` +
          r.ops.map((o) => `${o.phase} ${o.op} proto ${fmt(o.protoRatio, 3)}x flatshare ${fmt(o.flatshareRatio, 3)}x`).join('; '),
      ),
  );
  let md = `# Cache-line bucket prototype with deletes: int32, ${ENTRIES.toLocaleString('en-US')} entries, churn\n\n`;
  md += contextLines(context, '`npm run bench:bucket-churn` (benchmarks/bucket-churn.ts; prototype benchmarks/prototypes/bucket-lanes.wat)');
  md += `- ${PARENT_ROUNDS} children per configuration, alternating order; each child: ${CHILD_ROUNDS} rounds per phase after ${WARM_ROUNDS} warm-up rounds, implementations interleaved; gets: ${PASSES} passes over ${LOOKUPS.toLocaleString('en-US')} keys; delete+reinsert: ${PAIRS.toLocaleString('en-US')} pairs\n\n`;
  md += `"fresh": right after the fill of ${ENTRIES.toLocaleString('en-US')} keys. "churned": after CHURN rounds of (delete a random present key, insert a fresh key), CHURN = floor(lanes × used share) − ${ENTRIES.toLocaleString('en-US')}, which uses up the prototype's insert budget (it cannot migrate; "load → used" names the configuration: lane load after the fill → (FULL + TOMBSTONE) ÷ lanes after the churn; 0.8 is today's maximum load, at which a table with today's rule would migrate). "flatshare" is the library created with \`capacity: ${ENTRIES}\` (full after the fill: it resizes during the churn). Ratios: time ÷ \`Map\` in the same round (median over rounds, then median and range over children).\n\n`;
  md += `## Tables\n\n| prototype load → used | buckets | churn rounds | prototype lanes after churn: FULL / TOMBSTONE / EMPTY | TOMBSTONE ÷ used lanes | buckets with OVERFLOW (fresh → churned) | flatshare capacity (fresh → before churn → churned) | generation (same) | flatshare slots after churn: FULL / TOMBSTONE |\n|---:|---:|---:|---|---:|---|---|---|---|\n`;
  for (const { load, maxUsed } of CONFIGS) {
    const r = runs.find((x) => x.load === load && x.maxUsed === maxUsed) as ChildResult;
    const c = r.churned.proto;
    const lanes = r.buckets * BUCKET_LANES;
    md += `| ${load} → ${maxUsed} | ${r.buckets.toLocaleString('en-US')} | ${r.churn.toLocaleString('en-US')} | ${pct(c.full, lanes)} / ${pct(c.tombstone, lanes)} / ${pct(c.empty, lanes)} | ${pct(c.tombstone, c.full + c.tombstone)} | ${pct(r.fresh.proto.overflowBuckets, r.buckets)} → ${pct(c.overflowBuckets, r.buckets)} | ${r.fresh.flatCapacity.toLocaleString('en-US')} → ${r.beforeChurn.flatCapacity.toLocaleString('en-US')} → ${r.churned.flatCapacity.toLocaleString('en-US')} | ${r.fresh.flatGen} → ${r.beforeChurn.flatGen} → ${r.churned.flatGen} | ${pct(r.churned.flatFull, r.churned.flatCapacity)} / ${pct(r.churned.flatTombstone, r.churned.flatCapacity)} |\n`;
  }
  md += `\n(The tables are the same in every child: same seed, same operations.)\n\n## Times\n\n| phase | operation | prototype load → used | prototype / Map (median) | range | flatshare / Map (median, same children) | range | prototype / flatshare (median) | range | Map ns/op (median) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n`;
  const summary = PHASES.flatMap((phase) =>
    OPS.flatMap((op) =>
      CONFIGS.map(({ load, maxUsed }) => {
        const mine = runs.filter((r) => r.load === load && r.maxUsed === maxUsed).map((r) => r.ops.find((o) => o.phase === phase && o.op === op) as OpResult);
        const proto = mine.map((o) => o.protoRatio);
        const flat = mine.map((o) => o.flatshareRatio);
        const vs = mine.map((o) => o.protoVsFlatshare);
        const row = {
          phase,
          op,
          load,
          maxUsed,
          protoRatio: median(proto),
          protoRange: [Math.min(...proto), Math.max(...proto)],
          flatshareRatio: median(flat),
          flatshareRange: [Math.min(...flat), Math.max(...flat)],
          protoVsFlatshare: median(vs),
          protoVsFlatshareRange: [Math.min(...vs), Math.max(...vs)],
          mapNs: median(mine.map((o) => o.mapNs)),
        };
        md += `| ${phase} | ${op} | ${load} → ${maxUsed} | **${fmt(row.protoRatio, 3)}×** | ${range(proto)} | ${fmt(row.flatshareRatio, 3)}× | ${range(flat)} | ${fmt(row.protoVsFlatshare, 3)}× | ${range(vs)} | ${fmt(row.mapNs, 1)} |\n`;
        return row;
      }),
    ),
  );
  md += `\n## Churned ÷ fresh, same child (ns per operation, median and range over children)\n\n| operation | prototype load → used | prototype | range | flatshare | range | Map | range |\n|---|---:|---:|---:|---:|---:|---:|---:|\n`;
  const erosion = OPS.flatMap((op) =>
    CONFIGS.map(({ load, maxUsed }) => {
      const mine = runs.filter((r) => r.load === load && r.maxUsed === maxUsed);
      const of = (phase: Phase, r: ChildResult): OpResult => r.ops.find((o) => o.phase === phase && o.op === op) as OpResult;
      const growth = (field: 'protoNs' | 'flatshareNs' | 'mapNs'): number[] => mine.map((r) => of('churned', r)[field] / of('fresh', r)[field]);
      const proto = growth('protoNs');
      const flat = growth('flatshareNs');
      const m = growth('mapNs');
      md += `| ${op} | ${load} → ${maxUsed} | **${fmt(median(proto), 3)}×** | ${range(proto)} | ${fmt(median(flat), 3)}× | ${range(flat)} | ${fmt(median(m), 3)}× | ${range(m)} |\n`;
      return { op, load, maxUsed, proto: median(proto), flatshare: median(flat), map: median(m) };
    }),
  );
  mkdirSync('benchmarks/results', { recursive: true });
  writeFileSync(
    'benchmarks/results/bucket-churn.json',
    `${JSON.stringify({ date: context.date, commit: context.commit, node: process.version, cpu: context.cpu, loadStart: context.loadStart, loadEnd: context.loadEnd, seed: SEED, summary, erosion, runs }, null, 2)}\n`,
  );
  writeFileSync('benchmarks/results/bucket-churn.md', md);
  console.log(md);
}

if (process.argv[2] === '--child') {
  const config = CONFIGS[Number(process.argv[3])];
  if (config === undefined) throw new Error(`unknown configuration ${process.argv[3]}`);
  process.stdout.write(JSON.stringify(await child(config)));
} else {
  main();
}
