/**
 * Hasher benchmark: which built-in hasher should be the default?
 *
 * Dimensions: hasher (murmur3, fnv1a, xxhash32, xxhash64) x key length
 * (4, 16, 64, 256, 1024 code units, ASCII) x task (hash only; string-key get
 * hit in a 100k-entry map, 16- and 64-char keys, against Map.get on the same
 * keys in the same process).
 *
 * Method: one child process per hasher (`node build/benchmarks/hashers.js
 * --child <hasher>`), in ROUNDS rounds whose order reverses every round
 * (murmur3, fnv1a, xxhash32, xxhash64, then the reverse). A fresh process
 * keeps every call site monomorphic: measured in one process, the map's
 * `this.hasher.hashString` call and the benchmark loop would see four hasher
 * classes and go polymorphic, which penalizes whichever hasher runs later.
 * A row's ns/op is the mean over the rounds. The get rows also give
 * flatshare / Map from the same child, the comparison least exposed to load
 * on this shared machine; "vs murmur3" divides those ratios for get rows and
 * the ns/op for hash rows. Each child smoke-checks the map (every lookup key
 * found, same value as Map) before timing.
 *
 * Run: `npm run bench:hashers` (builds first). Writes
 * benchmarks/results/hashers.{json,md}. BENCH_MAX_TIME (seconds per row, default 1).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { SharedFlatMap, type Hasher } from '../lib/index.js';
import { formatLoad, mean, measureBatch } from './measure.js';
import { Prng } from './prng.js';
import { makeHasher } from './string-case.js';
import { HASHER_NAMES, type HasherName } from './types.js';

const KEY_LENGTHS = [4, 16, 64, 256, 1024];
const GET_LENGTHS = [16, 64];
const KEYS_PER_LENGTH = 4096;
const MAP_ENTRIES = 100_000;
const LOOKUPS = 1 << 16;
const MAX_TIME_S = Number(process.env.BENCH_MAX_TIME ?? 1);
const SEED = 0x5eed;
const ROUNDS = 2;
const BATCH = 1024;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';

/** A flat random ASCII key. */
function randomKey(prng: Prng, length: number): string {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = ALPHABET.charCodeAt(prng.below(ALPHABET.length));
  return bytes.toString('latin1');
}

interface ChildRow {
  task: 'hash' | 'get hit, 100k';
  length: number;
  hasher: HasherName;
  nsPerOp: number;
  rme: number;
  /** get rows: Map.get on the same keys in the same process. */
  mapNsPerOp?: number;
}

let sink = 0;

const measure = (name: string, fn: () => void): { ns: number; rme: number } => measureBatch(name, fn, BATCH, MAX_TIME_S);

/** One hasher, every row; prints the rows as JSON. Keys depend only on SEED, so every child hashes the same keys. */
async function child(name: HasherName): Promise<void> {
  const hasher: Hasher = await makeHasher(name);
  const prng = new Prng(SEED);
  const rows: ChildRow[] = [];
  for (const length of KEY_LENGTHS) {
    const keys = Array.from({ length: KEYS_PER_LENGTH }, () => randomKey(prng, length));
    let i = 0;
    const { ns, rme } = measure(`hash ${name} ${length}`, () => {
      for (let n = 0; n < BATCH; n++) sink ^= hasher.hashString(keys[i++ & (KEYS_PER_LENGTH - 1)] as string);
    });
    rows.push({ task: 'hash', length, hasher: name, nsPerOp: ns, rme });
    process.stderr.write(`  hash ${name} len ${length}: ${ns.toFixed(1)} ns\n`);
  }
  for (const length of GET_LENGTHS) {
    const keys = Array.from({ length: MAP_ENTRIES }, () => randomKey(prng, length));
    const lookups = Array.from({ length: LOOKUPS }, () => keys[prng.below(MAP_ENTRIES)] as string);
    const map = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', capacity: MAP_ENTRIES, hasher });
    const baseline = new Map<string, number>();
    keys.forEach((k, v) => {
      map.set(k, v);
      baseline.set(k, v);
    });
    for (const k of lookups) {
      if (map.get(k) !== baseline.get(k) || map.get(k) === undefined) throw new Error(`smoke check: ${name} get(${k}) = ${map.get(k)}, Map: ${baseline.get(k)}`);
    }
    let i = 0;
    let j = 0;
    // Map first, then flatshare, then Map again: the Map figure is the mean of both, bracketing flatshare in time.
    const m1 = measure(`Map.get ${length}`, () => {
      for (let n = 0; n < BATCH; n++) sink ^= baseline.get(lookups[j++ & (LOOKUPS - 1)] as string) as number;
    });
    const fs = measure(`get ${name} ${length}`, () => {
      for (let n = 0; n < BATCH; n++) sink ^= map.get(lookups[i++ & (LOOKUPS - 1)] as string) as number;
    });
    const m2 = measure(`Map.get ${length} again`, () => {
      for (let n = 0; n < BATCH; n++) sink ^= baseline.get(lookups[j++ & (LOOKUPS - 1)] as string) as number;
    });
    const mapNs = (m1.ns + m2.ns) / 2;
    rows.push({ task: 'get hit, 100k', length, hasher: name, nsPerOp: fs.ns, rme: fs.rme, mapNsPerOp: mapNs });
    process.stderr.write(`  get ${name} len ${length}: ${fs.ns.toFixed(1)} ns, Map ${mapNs.toFixed(1)} ns\n`);
  }
  process.stdout.write(`${JSON.stringify({ rows, sink: sink & 1 })}\n`);
}

interface Row extends ChildRow {
  /** ns/op of each round. */
  roundNs: number[];
  /** flatshare / Map per round (get rows). */
  roundRatios: number[];
  ratioVsMap?: number;
}

function main(): void {
  const script = fileURLToPath(import.meta.url);
  const loadStart = loadavg();
  const merged = new Map<string, Row>();
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [...HASHER_NAMES] : [...HASHER_NAMES].reverse();
    for (const name of order) {
      process.stderr.write(`round ${round + 1}/${ROUNDS}: ${name} (load average ${loadavg()[0]?.toFixed(2)})\n`);
      const result = spawnSync(process.execPath, [script, '--child', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (result.status !== 0) throw new Error(`hasher child ${name} exited with ${result.status}`);
      const { rows } = JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as { rows: ChildRow[] };
      for (const r of rows) {
        const key = `${r.task}|${r.length}|${r.hasher}`;
        const prev = merged.get(key) ?? { ...r, roundNs: [], roundRatios: [] };
        prev.roundNs.push(r.nsPerOp);
        if (r.mapNsPerOp !== undefined) prev.roundRatios.push(r.nsPerOp / r.mapNsPerOp);
        merged.set(key, prev);
      }
    }
  }
  const rows = [...merged.values()].map((r) => ({
    ...r,
    nsPerOp: mean(r.roundNs),
    ...(r.roundRatios.length > 0 ? { ratioVsMap: mean(r.roundRatios) } : {}),
  }));
  const base = (task: string, length: number): Row | undefined => rows.find((r) => r.task === task && r.length === length && r.hasher === 'murmur3');
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const loadEnd = loadavg();
  let md = `# Hasher benchmark\n\n- Node ${process.version}, ${cpu}, ${cpus().length} cores\n- Date: ${new Date().toISOString()}\n`;
  md += `- Command: \`npm run bench:hashers\` (= node build/benchmarks/hashers.js; maxTime ${MAX_TIME_S} s per row; one child process per hasher, ${ROUNDS} rounds in alternating order, mean of the rounds)\n`;
  md += `- Load average (1/5/15 min, ${cpus().length} cores): ${formatLoad(loadStart)} at the start, ${formatLoad(loadEnd)} at the end\n\n`;
  md += 'Hash rows: ns per `hashString` call. Get rows: ns per `map.get` (16 or 64-char keys, 100k entries, int32 values) and flatshare / Map.get on the same keys in the same child. "vs murmur3": ns ratio for hash rows, ratio of the flatshare / Map ratios for get rows.\n\n';
  md += '| task | key length | hasher | ns/op (rounds) | flatshare / Map | vs murmur3 |\n|---|---:|---|---:|---:|---:|\n';
  for (const r of rows) {
    const b = base(r.task, r.length);
    const vs = r.ratioVsMap !== undefined && b?.ratioVsMap !== undefined ? r.ratioVsMap / b.ratioVsMap : b === undefined ? Number.NaN : r.nsPerOp / b.nsPerOp;
    md += `| ${r.task} | ${r.length} | ${r.hasher} | ${r.nsPerOp.toFixed(1)} (${r.roundNs.map((x) => x.toFixed(1)).join(' / ')}) | ${r.ratioVsMap === undefined ? '–' : `${r.ratioVsMap.toFixed(2)}×`} | ${vs.toFixed(2)}× |\n`;
  }
  mkdirSync('benchmarks/results', { recursive: true });
  writeFileSync('benchmarks/results/hashers.json', `${JSON.stringify({ node: process.version, cpu, date: new Date().toISOString(), loadStart, loadEnd, rows }, null, 2)}\n`);
  writeFileSync('benchmarks/results/hashers.md', md);
  process.stdout.write(md);
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  const name = process.argv[childAt + 1] as HasherName;
  if (!(HASHER_NAMES as readonly string[]).includes(name)) throw new Error(`--child needs one of ${HASHER_NAMES.join(', ')}`);
  await child(name);
} else {
  main();
}
