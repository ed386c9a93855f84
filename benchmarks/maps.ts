/**
 * Several maps in one thread: get hit and overwrite when a thread uses 1, 2,
 * 4 or 5 maps, int32 -> int32 (100k entries) and 16-char string -> int32 (1k)
 * (lib/wasm/call-sites.ts is why this can differ from one map: V8 11.3 inlines
 * the JS-to-wasm call only at a call site that has seen one target, and every
 * map has its own wasm instance).
 *
 * Method: one child process per key type and map count (`node
 * build/benchmarks/maps.js --child <maps> <int32|string>`), so every child
 * starts with fresh call feedback; ROUNDS rounds, map counts in alternating
 * order. A child builds `maps` flatshare maps and as many `Map`s over the same
 * MAP_ENTRIES random keys (string keys: keys.ts `flatStringKeys`, and the lookups
 * are the same string objects as the inserted keys, as in the main suite), smoke-checks
 * every lookup key in every map (same value as the Map), reads every map once
 * through `get` (so each map's site, or the shared one, has seen its target
 * before any timing), then times with benchmark.js:
 * - "one map": a loop over the first map only, against a loop over the first Map;
 * - "spread": each lookup goes to a map picked at random (the same sequence
 *   for flatshare and Map), against the Maps picked the same way;
 * - "overwrite, one map": `set` of the first map's keys in a loop (int32: each
 *   to itself; string: to its index), against the same loop over the first Map; every map was written
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
import { KEY_TYPES, STRING_KEY_CHARS, flatStringKeys, type Key, type KeyArray, type KeyType, pickKeys } from './keys.js';
import { Prng, distinctKeys, sampleKeys } from './prng.js';

/** Map counts measured: one, two, the number of call sites, and one more than that (two maps share a site). */
const MAP_COUNTS = [1, 2, CALL_SITES, CALL_SITES + 1];
/** Entries per map, per key type. String keys at 1k: at 100k their gets are dominated by two cache misses and move by 2x between runs on this shared machine, which hides a ~10 % call cost. */
const MAP_ENTRIES: Record<KeyType, number> = { int32: 100_000, string: 1_000 };
/** Lookup sequence length (a power of two, so the cursor wraps with a mask). */
const LOOKUPS = 1 << 20;
const BATCH = 1000;
const MAX_TIME_S = Number(process.env.BENCH_MAX_TIME ?? 1);
const SEED = 0x3a95;
const ROUNDS = 2;

type Task = 'one map' | 'spread' | 'overwrite, one map';
interface ChildRow {
  keys: KeyType;
  task: Task;
  maps: number;
  nsPerOp: number;
  rme: number;
  mapNsPerOp: number;
}

let sink = 0;

const measure = (name: string, fn: () => void): { ns: number; rme: number } => measureBatch(name, fn, BATCH, MAX_TIME_S);

function child(maps: number, keyType: KeyType): void {
  const prng = new Prng(SEED);
  const ints = distinctKeys(prng, MAP_ENTRIES[keyType]);
  // Flat strings, as the main suite's string cases use.
  const keys: KeyArray = keyType === 'int32' ? ints : flatStringKeys(ints);
  const indices = sampleKeys(prng, Int32Array.from(ints, (_, i) => i), LOOKUPS);
  const lookups: KeyArray = pickKeys(keys, indices);
  // What an overwrite writes: int32 keys get themselves, string keys their index.
  const written: Int32Array = keys instanceof Int32Array ? (lookups as Int32Array) : indices;
  const which = new Uint8Array(LOOKUPS);
  for (let i = 0; i < LOOKUPS; i++) which[i] = prng.below(maps);
  const shared: Array<SharedFlatMap<Key, number>> = [];
  const local: Array<Map<Key, number>> = [];
  for (let m = 0; m < maps; m++) {
    const map = new SharedFlatMap<Key, number>({ keys: keyType, values: 'int32' });
    const baseline = new Map<Key, number>();
    keys.forEach((k: Key, i: number) => {
      map.set(k, i + m);
      baseline.set(k, i + m);
    });
    shared.push(map);
    local.push(baseline);
  }
  // Smoke check (every key of every map, through get), which also gives every map's site its target.
  for (let m = 0; m < maps; m++) {
    const map = shared[m] as SharedFlatMap<Key, number>;
    const baseline = local[m] as Map<Key, number>;
    for (const k of keys) {
      if (map.get(k) !== baseline.get(k)) throw new Error(`smoke check: map ${m} get(${k}) = ${map.get(k)}, Map: ${baseline.get(k)}`);
    }
  }
  const rows: ChildRow[] = [];
  const first = shared[0] as SharedFlatMap<Key, number>;
  const firstMap = local[0] as Map<Key, number>;
  // Six loop functions, one per (task, implementation), written out rather than made by one
  // factory: closures of one function literal share its feedback, so a shared loop would see both
  // flatshare and Map receivers at its get call and measure a polymorphic call, not either one.
  const spreadFs = (): (() => void) => {
    let i = 0;
    return () => {
      let acc = 0;
      for (let n = 0; n < BATCH; n++) {
        const at = i++ & (LOOKUPS - 1);
        acc = (acc + ((shared[which[at] as number] as SharedFlatMap<Key, number>).get(lookups[at] as Key) as number)) | 0;
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
        acc = (acc + ((local[which[at] as number] as Map<Key, number>).get(lookups[at] as Key) as number)) | 0;
      }
      sink ^= acc;
    };
  };
  const oneFs = (): (() => void) => {
    let i = 0;
    return () => {
      let acc = 0;
      for (let n = 0; n < BATCH; n++) acc = (acc + (first.get(lookups[i++ & (LOOKUPS - 1)] as Key) as number)) | 0;
      sink ^= acc;
    };
  };
  const oneMap = (): (() => void) => {
    let i = 0;
    return () => {
      let acc = 0;
      for (let n = 0; n < BATCH; n++) acc = (acc + (firstMap.get(lookups[i++ & (LOOKUPS - 1)] as Key) as number)) | 0;
      sink ^= acc;
    };
  };
  // Overwrites of the first map's keys (every map was written through `set` when it was filled).
  // The value written depends only on the key (`written`), so flatshare and Map agree whatever
  // number of invocations each ran (checked after timing).
  const overwriteFs = (): (() => void) => {
    let i = 0;
    return () => {
      for (let n = 0; n < BATCH; n++) {
        const at = i++ & (LOOKUPS - 1);
        first.set(lookups[at] as Key, written[at] as number);
      }
    };
  };
  const overwriteMap = (): (() => void) => {
    let i = 0;
    return () => {
      for (let n = 0; n < BATCH; n++) {
        const at = i++ & (LOOKUPS - 1);
        firstMap.set(lookups[at] as Key, written[at] as number);
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
    rows.push({ keys: keyType, task, maps, nsPerOp: f.ns, rme: f.rme, mapNsPerOp: mapNs });
    process.stderr.write(`  ${keyType}, ${maps} maps, ${task}: flatshare ${f.ns.toFixed(1)} ns, Map ${mapNs.toFixed(1)} ns\n`);
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
    for (const keyType of KEY_TYPES) {
      for (const maps of order) {
        process.stderr.write(`round ${round + 1}/${ROUNDS}: ${keyType}, ${maps} maps (load average ${loadavg()[0]?.toFixed(2)})\n`);
        const result = spawnSync(process.execPath, [script, '--child', String(maps), keyType], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
        if (result.status !== 0) throw new Error(`maps child ${keyType} ${maps} exited with ${result.status}`);
        const { rows } = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { rows: ChildRow[] };
        for (const r of rows) {
          const key = `${r.keys}|${r.task}|${r.maps}`;
          const prev = merged.get(key) ?? { ...r, roundNs: [], roundMapNs: [], roundRatios: [] };
          prev.roundNs.push(r.nsPerOp);
          prev.roundMapNs.push(r.mapNsPerOp);
          prev.roundRatios.push(r.nsPerOp / r.mapNsPerOp);
          merged.set(key, prev);
        }
      }
    }
  }
  const rows: Row[] = [...merged.values()]
    // rme is the first round's (benchmark.js's margin of one run); the ns figures are means over the rounds.
    .map((r) => ({ ...r, nsPerOp: mean(r.roundNs), mapNsPerOp: mean(r.roundMapNs), ratioVsMap: mean(r.roundRatios) }))
    .sort((a, b) => KEY_TYPES.indexOf(a.keys) - KEY_TYPES.indexOf(b.keys) || a.task.localeCompare(b.task) || a.maps - b.maps);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const loadEnd = loadavg();
  const date = new Date().toISOString();
  let md = `# Several maps in one thread\n\n- Node ${process.version}, ${cpu}, ${cpus().length} cores\n- Date: ${date}\n- Commit: ${commit}\n`;
  md += `- Command: \`npm run bench:maps\` (= node build/benchmarks/maps.js; maxTime ${MAX_TIME_S} s per measurement; one child process per key type and map count, ${ROUNDS} rounds in alternating order, mean of the rounds)\n`;
  md += `- Load average (1/5/15 min, ${cpus().length} cores): ${formatLoad(loadStart)} at the start, ${formatLoad(loadEnd)} at the end\n\n`;
  md += `int32 -> int32 (${MAP_ENTRIES.int32.toLocaleString('en-US')} entries per map) and ${STRING_KEY_CHARS}-char string -> int32 (${MAP_ENTRIES.string.toLocaleString('en-US')} entries per map), every map written and read in the thread before timing. "one map": get hits in a loop over the first map; "spread": each get on a map picked at random; "overwrite, one map": set of existing keys of the first map. flatshare / Map: against the same loop over \`Map\`s in the same child. Each hot wasm call of \`get\`, \`set\`, \`delete\` and \`add\` is written out ${CALL_SITES} times, per key type (lib/wasm/call-sites.ts).\n\n`;
  md += '| keys | task | maps in the thread | Map ns/op | flatshare ns/op (rounds) | flatshare / Map (rounds) |\n|---|---|---:|---:|---:|---:|\n';
  for (const r of rows) {
    md += `| ${r.keys} | ${r.task} | ${r.maps} | ${r.mapNsPerOp.toFixed(1)} | ${r.nsPerOp.toFixed(1)} (${r.roundNs.map((x) => x.toFixed(1)).join(' / ')}) | ${r.ratioVsMap.toFixed(2)}× (${r.roundRatios.map((x) => x.toFixed(2)).join(' / ')}) |\n`;
  }
  mkdirSync('benchmarks/results', { recursive: true });
  writeFileSync('benchmarks/results/maps.json', `${JSON.stringify({ node: process.version, cpu, date, commit, loadStart, loadEnd, rows }, null, 2)}\n`);
  writeFileSync('benchmarks/results/maps.md', md);
  process.stdout.write(md);
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  const maps = Number(process.argv[childAt + 1]);
  const keyType = process.argv[childAt + 2] as KeyType;
  if (!MAP_COUNTS.includes(maps)) throw new Error(`--child needs one of ${MAP_COUNTS.join(', ')}`);
  if (!KEY_TYPES.includes(keyType)) throw new Error(`--child ${maps} needs a key type: ${KEY_TYPES.join(', ')}`);
  child(maps, keyType);
} else {
  main();
}
