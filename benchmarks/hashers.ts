/**
 * Hasher benchmark: which built-in hasher should be the default?
 *
 * Dimensions: hasher (murmur3, fnv1a, xxhash32, xxhash64) x key length
 * (4, 16, 64, 256, 1024 code units, ASCII) x task (hash only; string-key get
 * hit in a 100k-entry map). Each row is also given as a ratio to murmur3
 * measured in the same run.
 *
 * Run: `npm run bench:hashers` (builds first). Writes
 * benchmarks/results/hashers.{json,md}.
 */
import Benchmark from 'benchmark';
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { SharedFlatMap, hashers, type Hasher } from '../lib/index.js';
import { Prng } from './prng.js';

const KEY_LENGTHS = [4, 16, 64, 256, 1024];
const KEYS_PER_LENGTH = 4096;
const MAP_ENTRIES = 100_000;
const MAX_TIME_S = Number(process.env.BENCH_MAX_TIME ?? 1);
const SEED = 0x5eed;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';

function randomKey(prng: Prng, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHABET[prng.below(ALPHABET.length)];
  return s;
}

interface Row {
  task: string;
  length: number;
  hasher: string;
  nsPerOp: number;
  rme: number;
}

function measure(name: string, fn: () => void): { ns: number; rme: number } {
  const bench = new Benchmark(name, fn, { maxTime: MAX_TIME_S, minSamples: 5 });
  bench.run();
  return { ns: (bench.stats.mean * 1e9) / BATCH, rme: bench.stats.rme };
}

const BATCH = 1024;
let sink = 0;

async function main(): Promise<void> {
  const all: [string, Hasher][] = [
    ['murmur3', hashers.murmur3()],
    ['fnv1a', hashers.fnv1a()],
    ['xxhash32', await hashers.xxhash32()],
    ['xxhash64', await hashers.xxhash64()],
  ];
  const prng = new Prng(SEED);
  const rows: Row[] = [];
  for (const length of KEY_LENGTHS) {
    const keys = Array.from({ length: KEYS_PER_LENGTH }, () => randomKey(prng, length));
    for (const [name, hasher] of all) {
      let i = 0;
      const { ns, rme } = measure(`hash ${name} ${length}`, () => {
        for (let n = 0; n < BATCH; n++) sink ^= hasher.hashString(keys[i++ & (KEYS_PER_LENGTH - 1)] as string);
      });
      rows.push({ task: 'hash', length, hasher: name, nsPerOp: ns, rme });
      process.stderr.write(`hash ${name} len ${length}: ${ns.toFixed(1)} ns\n`);
    }
  }
  // String-key get hit, 16- and 64-char keys, 100k entries.
  for (const length of [16, 64]) {
    const keys = Array.from({ length: MAP_ENTRIES }, () => randomKey(prng, length));
    const lookups = Array.from({ length: 1 << 16 }, () => keys[prng.below(MAP_ENTRIES)] as string);
    for (const [name, hasher] of all) {
      const map = new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', capacity: MAP_ENTRIES, hasher });
      keys.forEach((k, v) => map.set(k, v));
      for (const k of lookups) if (map.get(k) === undefined) throw new Error(`smoke check: ${name} lost ${k}`);
      let i = 0;
      const { ns, rme } = measure(`get ${name} ${length}`, () => {
        for (let n = 0; n < BATCH; n++) sink ^= map.get(lookups[i++ & 0xffff] as string) as number;
      });
      rows.push({ task: 'get hit, 100k', length, hasher: name, nsPerOp: ns, rme });
      process.stderr.write(`get ${name} len ${length}: ${ns.toFixed(1)} ns\n`);
    }
  }
  const base = (task: string, length: number): number =>
    rows.find((r) => r.task === task && r.length === length && r.hasher === 'murmur3')?.nsPerOp ?? NaN;
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  let md = `# Hasher benchmark\n\n- Node ${process.version}, ${cpu}, ${cpus().length} cores\n- Date: ${new Date().toISOString()}\n`;
  md += `- Command: \`npm run bench:hashers\` (maxTime ${MAX_TIME_S} s per row)\n\n`;
  md += '| task | key length | hasher | ns/op | vs murmur3 |\n|---|---:|---|---:|---:|\n';
  for (const r of rows) {
    md += `| ${r.task} | ${r.length} | ${r.hasher} | ${r.nsPerOp.toFixed(1)} ±${r.rme.toFixed(0)}% | ${(r.nsPerOp / base(r.task, r.length)).toFixed(2)}× |\n`;
  }
  mkdirSync('benchmarks/results', { recursive: true });
  writeFileSync('benchmarks/results/hashers.json', JSON.stringify({ node: process.version, cpu, rows }, null, 2));
  writeFileSync('benchmarks/results/hashers.md', md);
  process.stdout.write(md);
  if (sink === 0.5) process.stdout.write('');
}

void main();
