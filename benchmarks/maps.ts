/**
 * Several maps in one thread: int32 get hit and overwrite at 100k entries when
 * a thread uses 1, 2, 4 or 5 int32 -> int32 maps (lib/wasm/call-sites.ts is why this
 * can differ from one map: V8 11.3 inlines the JS-to-wasm call only at a call
 * site that has seen one target, and every map has its own wasm instance).
 *
 * Method: one child process per map count (`node build/benchmarks/maps.js
 * --child <maps>`), so every child starts with fresh call feedback; ROUNDS
 * rounds, map counts in alternating order. A child builds `maps` flatshare
 * maps and as many `Map`s over the same MAP_ENTRIES random keys, smoke-checks
 * every lookup key in every map (same value as the Map), reads every map once
 * through `get` (so each map's site, or the shared one, has seen its target
 * before any timing), then times with benchmark.js:
 * - "one map": a loop over the first map only, against a loop over the first Map;
 * - "spread": each lookup goes to a map picked at random (the same sequence
 *   for flatshare and Map), against the Maps picked the same way;
 * - "overwrite, one map": `set` of the first map's keys (each to itself) in a
 *   loop, against the same loop over the first Map; every map was written
 *   through `set` when it was filled. The first map is checked against the
 *   first Map after timing.
 * Map is timed before and after flatshare; its figure is the mean of both.
 * The ratio is flatshare / Map from the same child, the mean over the rounds.
 *
 * Run: `npm run bench:maps` (builds first). Writes benchmarks/results/maps.{json,md}, with
 * the commit measured.
 * BENCH_MAX_TIME (seconds per measurement, default 1).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { SharedFlatMap } from '../lib/index.js';
import { CALL_SITES } from '../lib/wasm/call-sites.js';
import { gitCommit } from './git.js';
import { formatLoad, mean, measureBatch } from './measure.js';
import { Prng, distinctKeys, sampleKeys } from './prng.js';

/** Map counts measured: one, two, the number of call sites, and one more than that (two maps share a site). */
const MAP_COUNTS = [1, 2, CALL_SITES, CALL_SITES + 1];
const MAP_ENTRIES = 100_000;
/** Lookup sequence length (a power of two, so the cursor wraps with a mask). */
const LOOKUPS = 1 << 20;
const BATCH = 1000;
const MAX_TIME_S = Number(process.env.BENCH_MAX_TIME ?? 1);
const SEED = 0x3a95;
const ROUNDS = 2;

type Task = 'one map' | 'spread' | 'overwrite, one map';
interface ChildRow {
  task: Task;
  maps: number;
  nsPerOp: number;
  rme: number;
  mapNsPerOp: number;
}

let sink = 0;

const measure = (name: string, fn: () => void): { ns: number; rme: number } => measureBatch(name, fn, BATCH, MAX_TIME_S);

function child(maps: number): void {
  const prng = new Prng(SEED);
  const keys = distinctKeys(prng, MAP_ENTRIES);
  const lookups = sampleKeys(prng, keys, LOOKUPS);
  const which = new Uint8Array(LOOKUPS);
  for (let i = 0; i < LOOKUPS; i++) which[i] = prng.below(maps);
  const shared: Array<SharedFlatMap<number, number>> = [];
  const local: Array<Map<number, number>> = [];
  for (let m = 0; m < maps; m++) {
    const map = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
    const baseline = new Map<number, number>();
    keys.forEach((k, i) => {
      map.set(k, i + m);
      baseline.set(k, i + m);
    });
    shared.push(map);
    local.push(baseline);
  }
  // Smoke check (every key of every map, through get), which also gives every map's site its target.
  for (let m = 0; m < maps; m++) {
    const map = shared[m] as SharedFlatMap<number, number>;
    const baseline = local[m] as Map<number, number>;
    for (const k of keys) {
      if (map.get(k) !== baseline.get(k)) throw new Error(`smoke check: map ${m} get(${k}) = ${map.get(k)}, Map: ${baseline.get(k)}`);
    }
  }
  const rows: ChildRow[] = [];
  const first = shared[0] as SharedFlatMap<number, number>;
  const firstMap = local[0] as Map<number, number>;
  // Six loop functions, one per (task, implementation), written out rather than made by one
  // factory: closures of one function literal share its feedback, so a shared loop would see both
  // flatshare and Map receivers at its get call and measure a polymorphic call, not either one.
  const spreadFs = (): (() => void) => {
    let i = 0;
    return () => {
      let acc = 0;
      for (let n = 0; n < BATCH; n++) {
        const at = i++ & (LOOKUPS - 1);
        acc = (acc + ((shared[which[at] as number] as SharedFlatMap<number, number>).get(lookups[at] as number) as number)) | 0;
      }
      sink ^= acc;
    };
  };
  const spreadMap = (): (() => void) => {
    let i = 0;
    return () => {
      let acc = 0;
      for (let n = 0; n < BATCH; n++) {
        const at = i++ & (LOOKUPS - 1);
        acc = (acc + ((local[which[at] as number] as Map<number, number>).get(lookups[at] as number) as number)) | 0;
      }
      sink ^= acc;
    };
  };
  const oneFs = (): (() => void) => {
    let i = 0;
    return () => {
      let acc = 0;
      for (let n = 0; n < BATCH; n++) acc = (acc + (first.get(lookups[i++ & (LOOKUPS - 1)] as number) as number)) | 0;
      sink ^= acc;
    };
  };
  const oneMap = (): (() => void) => {
    let i = 0;
    return () => {
      let acc = 0;
      for (let n = 0; n < BATCH; n++) acc = (acc + (firstMap.get(lookups[i++ & (LOOKUPS - 1)] as number) as number)) | 0;
      sink ^= acc;
    };
  };
  // Overwrites of the first map's keys (every map was written through `set` when it was filled).
  // The value written is the key itself, so flatshare and Map agree whatever number of
  // invocations each ran (checked after timing).
  const overwriteFs = (): (() => void) => {
    let i = 0;
    return () => {
      for (let n = 0; n < BATCH; n++) {
        const k = lookups[i++ & (LOOKUPS - 1)] as number;
        first.set(k, k);
      }
    };
  };
  const overwriteMap = (): (() => void) => {
    let i = 0;
    return () => {
      for (let n = 0; n < BATCH; n++) {
        const k = lookups[i++ & (LOOKUPS - 1)] as number;
        firstMap.set(k, k);
      }
    };
  };
  const tasks: Array<[Task, () => () => void, () => () => void]> = [
    ['one map', oneFs, oneMap],
    ['spread', spreadFs, spreadMap],
    ['overwrite, one map', overwriteFs, overwriteMap],
  ];
  for (const [task, fs, base] of tasks) {
    const m1 = measure(`Map ${task}`, base());
    const f = measure(`flatshare ${task}`, fs());
    const m2 = measure(`Map ${task} again`, base());
    const mapNs = (m1.ns + m2.ns) / 2;
    rows.push({ task, maps, nsPerOp: f.ns, rme: f.rme, mapNsPerOp: mapNs });
    process.stderr.write(`  ${maps} maps, ${task}: flatshare ${f.ns.toFixed(1)} ns, Map ${mapNs.toFixed(1)} ns\n`);
  }
  for (const k of keys) {
    if (first.get(k) !== firstMap.get(k)) throw new Error(`check after timing: get(${k}) = ${first.get(k)}, Map: ${firstMap.get(k)}`);
  }
  process.stdout.write(`${JSON.stringify({ rows, sink: sink & 1 })}\n`);
}

interface Row extends ChildRow {
  roundNs: number[];
  roundMapNs: number[];
  roundRatios: number[];
  ratioVsMap: number;
}

function main(): void {
  const script = fileURLToPath(import.meta.url);
  const loadStart = loadavg();
  // Read before the children run: what they measured.
  const commit = gitCommit();
  const merged = new Map<string, Omit<Row, 'ratioVsMap'>>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [...MAP_COUNTS] : [...MAP_COUNTS].reverse();
    for (const maps of order) {
      process.stderr.write(`round ${round + 1}/${ROUNDS}: ${maps} maps (load average ${loadavg()[0]?.toFixed(2)})\n`);
      const result = spawnSync(process.execPath, [script, '--child', String(maps)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (result.status !== 0) throw new Error(`maps child ${maps} exited with ${result.status}`);
      const { rows } = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { rows: ChildRow[] };
      for (const r of rows) {
        const key = `${r.task}|${r.maps}`;
        const prev = merged.get(key) ?? { ...r, roundNs: [], roundMapNs: [], roundRatios: [] };
        prev.roundNs.push(r.nsPerOp);
        prev.roundMapNs.push(r.mapNsPerOp);
        prev.roundRatios.push(r.nsPerOp / r.mapNsPerOp);
        merged.set(key, prev);
      }
    }
  }
  const rows: Row[] = [...merged.values()]
    // rme is the first round's (benchmark.js's margin of one run); the ns figures are means over the rounds.
    .map((r) => ({ ...r, nsPerOp: mean(r.roundNs), mapNsPerOp: mean(r.roundMapNs), ratioVsMap: mean(r.roundRatios) }))
    .sort((a, b) => a.task.localeCompare(b.task) || a.maps - b.maps);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const loadEnd = loadavg();
  const date = new Date().toISOString();
  let md = `# Several maps in one thread\n\n- Node ${process.version}, ${cpu}, ${cpus().length} cores\n- Date: ${date}\n- Commit: ${commit}\n`;
  md += `- Command: \`npm run bench:maps\` (= node build/benchmarks/maps.js; maxTime ${MAX_TIME_S} s per measurement; one child process per map count, ${ROUNDS} rounds in alternating order, mean of the rounds)\n`;
  md += `- Load average (1/5/15 min, ${cpus().length} cores): ${formatLoad(loadStart)} at the start, ${formatLoad(loadEnd)} at the end\n\n`;
  md += `int32 -> int32, ${MAP_ENTRIES.toLocaleString('en-US')} entries per map, every map written and read in the thread before timing. "one map": get hits in a loop over the first map; "spread": each get on a map picked at random; "overwrite, one map": set of existing keys of the first map. flatshare / Map: against the same loop over \`Map\`s in the same child. \`get\`, \`set\`, \`delete\` and \`add\` have ${CALL_SITES} call sites of their wasm call (lib/wasm/call-sites.ts).\n\n`;
  md += '| task | maps in the thread | Map ns/op | flatshare ns/op (rounds) | flatshare / Map (rounds) |\n|---|---:|---:|---:|---:|\n';
  for (const r of rows) {
    md += `| ${r.task} | ${r.maps} | ${r.mapNsPerOp.toFixed(1)} | ${r.nsPerOp.toFixed(1)} (${r.roundNs.map((x) => x.toFixed(1)).join(' / ')}) | ${r.ratioVsMap.toFixed(2)}× (${r.roundRatios.map((x) => x.toFixed(2)).join(' / ')}) |\n`;
  }
  mkdirSync('benchmarks/results', { recursive: true });
  writeFileSync('benchmarks/results/maps.json', `${JSON.stringify({ node: process.version, cpu, date, commit, loadStart, loadEnd, rows }, null, 2)}\n`);
  writeFileSync('benchmarks/results/maps.md', md);
  process.stdout.write(md);
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  const maps = Number(process.argv[childAt + 1]);
  if (!MAP_COUNTS.includes(maps)) throw new Error(`--child needs one of ${MAP_COUNTS.join(', ')}`);
  child(maps);
} else {
  main();
}
