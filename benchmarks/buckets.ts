/**
 * What a cache-line bucket layout would buy on the int32 get-hit target at
 * 100k entries (BRIEF §6: ≤ 1.0 × `Map.get`), measured before anyone builds it
 * (docs/benchmarks.md, "BRIEF §6 targets: where each stands").
 *
 * The prototype (benchmarks/prototypes/bucket-probe.wat, NOT the library) is
 * a read-only table of 64-byte buckets: one seq word, 7 keys, 7 values and a
 * count/overflow word, home bucket = (hash × buckets) >> 32, so the bucket
 * count need not be a power of two. Its two probes validate the way the
 * library's getI32 does (epoch word, then the bucket's seq again):
 * - `getA` compares the keys one atomic load at a time;
 * - `getU` is getA unrolled (all 7 compares, no loop bound per key);
 * - `getS` compares all 7 with one SIMD compare (plain v128 loads: enough on
 *   x86-64, an arm64 build would need a fence before the validating load);
 * - `getSF` is getS with an `atomic.fence` before each validation (what arm64
 *   needs; on x86-64 it is an mfence), to price one portable build.
 * Its JS side is SharedFlatMap.get's: int32 check, fmix32(key ^ seed), one
 * wasm call with five arguments, the MISS/RETRY tests.
 *
 * Each child process builds, from one seed, ENTRIES distinct random int32
 * keys, a `Map`, a default (grown) SharedFlatMap and ONE prototype table (one
 * variant at one load factor: a second one would share the call site of
 * `BucketTable.get` and make the wasm call megamorphic, docs/design.md §4),
 * checks that all three answer every key and a batch of absent keys alike,
 * then times the three over the same LOOKUPS sampled hits, interleaved,
 * CHILD_ROUNDS times after WARM_ROUNDS discarded rounds. Each timing loop has
 * its own source text (own call feedback). The parent runs every
 * (variant, load) config PARENT_ROUNDS times in alternating order and reports
 * the median over children of each child's median per-round ratio to `Map`.
 *
 * Not benchmark.js: three implementations must take turns inside one process
 * on the same keys, and a benchmark.js cycle per implementation would put
 * seconds between them on a machine whose speed drifts by 2× in minutes.
 *
 * Run: `npm run bench:buckets` (builds first, ~2.5 min). Writes
 * benchmarks/results/buckets.{json,md}, with the commit measured.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fmix32 } from '../lib/hashers/murmur3.js';
import type { SharedWasmMemory } from '../lib/wasm/api.js';
import { READ_MISS } from '../lib/wasm/read-path.js';
import {
  PROTO_TABLE_BASE_BYTES,
  contextLines,
  instantiateWat,
  lookupTimer,
  lookupWorkload,
  prototypeMemory,
  rangeText,
  runAlternating,
  runChildScript,
  type Probe,
} from './prototype-harness.js';
import { median } from './measure.js';

const ENTRIES = 100_000;
const LOOKUPS = 100_000;
/** Passes over LOOKUPS per timed sample. */
const PASSES = 10;
const WARM_ROUNDS = 2;
const CHILD_ROUNDS = 9;
const PARENT_ROUNDS = 5;
const SEED = 4242;
const MISS_CHECKS = 10_000;
/** Load factors of the prototype: entries ÷ (buckets × BUCKET_SLOTS). */
const LOADS = [0.6, 0.7, 0.8] as const;
const VARIANTS = ['getA', 'getU', 'getS', 'getSF'] as const;
type Variant = (typeof VARIANTS)[number];

/** Bucket geometry; the .wat hard-codes the same numbers. */
const BUCKET_BYTES = 64;
const BUCKET_INTS = BUCKET_BYTES / 4;
const BUCKET_SLOTS = 7;
const KEYS_AT = 1;
const VALUES_AT = KEYS_AT + BUCKET_SLOTS;
const META_AT = BUCKET_INTS - 1;
const COUNT_MASK = 7;
const OVERFLOW = 256;
const TWO_POW_32 = 4294967296;
const HASH_SEED = 0x5eed;

const WAT = fileURLToPath(new URL('../../benchmarks/prototypes/bucket-probe.wat', import.meta.url));

async function instantiate(memory: SharedWasmMemory): Promise<Record<Variant, Probe>> {
  return (await instantiateWat(WAT, memory)) as Record<Variant, Probe>;
}

/** The prototype table: JS inserts (single-threaded, untimed), wasm reads. */
class BucketTable {
  readonly buckets: number;
  readonly memory: SharedWasmMemory;
  private readonly words: Int32Array;
  private probe: Probe = () => Number.NaN;
  private readonly gen = 0;

  constructor(load: number) {
    this.buckets = Math.ceil(ENTRIES / (BUCKET_SLOTS * load));
    this.memory = prototypeMemory(PROTO_TABLE_BASE_BYTES + this.buckets * BUCKET_BYTES);
    this.words = new Int32Array(this.memory.buffer);
  }

  use(probe: Probe): void {
    this.probe = probe;
  }

  /** Table bytes per entry (what the layout costs; the fixed part is not counted). */
  bytesPerEntry(): number {
    return (this.buckets * BUCKET_BYTES) / ENTRIES;
  }

  insert(k: number, v: number): void {
    let b = Math.floor(((fmix32(k ^ HASH_SEED) >>> 0) * this.buckets) / TWO_POW_32);
    for (;;) {
      const w = PROTO_TABLE_BASE_BYTES / 4 + b * BUCKET_INTS;
      const meta = this.words[w + META_AT] as number;
      const count = meta & COUNT_MASK;
      if (count < BUCKET_SLOTS) {
        this.words[w + KEYS_AT + count] = k;
        this.words[w + VALUES_AT + count] = v;
        this.words[w + META_AT] = (meta & ~COUNT_MASK) | (count + 1);
        return;
      }
      this.words[w + META_AT] = meta | OVERFLOW;
      b = b + 1 === this.buckets ? 0 : b + 1;
    }
  }

  /** SharedFlatMap.get's JS side around the prototype probe. */
  get(key: number): number | undefined {
    if (typeof key !== 'number' || (key | 0) !== key) throw new TypeError('not an int32 key');
    const hash = fmix32(key ^ HASH_SEED);
    const r = this.probe(key, hash, PROTO_TABLE_BASE_BYTES, this.buckets, this.gen);
    if (r < READ_MISS) return r;
    if (r === READ_MISS) return undefined;
    throw new Error('RETRY in a table nobody writes');
  }
}


interface ChildResult {
  variant: Variant;
  load: number;
  bytesPerEntry: number;
  mapNs: number;
  flatshareNs: number;
  protoNs: number;
  /** Medians over rounds of the per-round ratio to Map. */
  flatshareRatio: number;
  protoRatio: number;
}

async function child(variant: Variant, load: number): Promise<ChildResult> {
  const { keys, hits, misses, map, flat } = lookupWorkload(SEED, ENTRIES, LOOKUPS, MISS_CHECKS);
  const proto = new BucketTable(load);
  proto.use((await instantiate(proto.memory))[variant]);
  for (let i = 0; i < keys.length; i++) proto.insert(keys[i] as number, i);
  for (const probeKeys of [keys, misses]) {
    for (let i = 0; i < probeKeys.length; i++) {
      const k = probeKeys[i] as number;
      const want = map.get(k);
      if (flat.get(k) !== want || proto.get(k) !== want) throw new Error(`key ${k}: Map ${want}, flatshare ${flat.get(k)}, prototype ${proto.get(k)}`);
    }
  }
  const impls = { Map: lookupTimer('Map', map, hits, PASSES), flatshare: lookupTimer('flatshare', flat, hits, PASSES), proto: lookupTimer(variant, proto, hits, PASSES) };
  const ns: Record<keyof typeof impls, number[]> = { Map: [], flatshare: [], proto: [] };
  for (let round = 0; round < WARM_ROUNDS + CHILD_ROUNDS; round++) {
    for (const name of Object.keys(impls) as (keyof typeof impls)[]) {
      const t = impls[name]();
      if (round >= WARM_ROUNDS) ns[name].push(t);
    }
  }
  const ratio = (of: number[]): number => median(of.map((t, i) => t / (ns.Map[i] as number)));
  return {
    variant,
    load,
    bytesPerEntry: proto.bytesPerEntry(),
    mapNs: median(ns.Map),
    flatshareNs: median(ns.flatshare),
    protoNs: median(ns.proto),
    flatshareRatio: ratio(ns.flatshare),
    protoRatio: ratio(ns.proto),
  };
}

function runChild(variant: Variant, load: number): ChildResult {
  return runChildScript<ChildResult>(fileURLToPath(import.meta.url), [variant, String(load)]);
}

const fmt = (x: number, digits = 2): string => x.toFixed(digits);
const range = (xs: number[]): string => rangeText(xs, 3);

function main(): void {
  const configs = VARIANTS.flatMap((variant) => LOADS.map((load) => ({ variant, load })));
  const { runs, context } = runAlternating(
    configs,
    PARENT_ROUNDS,
    ({ variant, load }) => runChild(variant, load),
    (round, { variant, load }, r) =>
      console.log(`round ${round + 1}/${PARENT_ROUNDS} ${variant}@${load}: Map ${fmt(r.mapNs, 1)} ns, flatshare ${fmt(r.flatshareRatio, 3)}x, prototype ${fmt(r.protoRatio, 3)}x`),
  );
  let md = `# Cache-line bucket prototype: int32 get hit, ${ENTRIES.toLocaleString('en-US')} entries\n\n`;
  md += contextLines(context, '`npm run bench:buckets` (benchmarks/buckets.ts; prototype benchmarks/prototypes/bucket-probe.wat)');
  md += `- ${PARENT_ROUNDS} children per config, alternating order; each child: ${CHILD_ROUNDS} rounds of ${PASSES} × ${LOOKUPS.toLocaleString('en-US')} hits per implementation, interleaved, after ${WARM_ROUNDS} warm-up rounds\n\n`;
  md += `Ratios are time per get ÷ \`Map.get\` in the same child (median over rounds, then median and range over children). "flatshare" is the library as built (default map grown to 2^17 slots of 12 bytes: 15.7 table bytes per entry).\n\n`;
  md += `| prototype probe | load factor | table bytes/entry | prototype / Map (median) | range | flatshare / Map (median, same children) | range | Map ns/get (median) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n`;
  const summary = configs.map(({ variant, load }) => {
    const mine = runs.filter((r) => r.variant === variant && r.load === load);
    const proto = mine.map((r) => r.protoRatio);
    const flat = mine.map((r) => r.flatshareRatio);
    const row = {
      variant,
      load,
      bytesPerEntry: (mine[0] as ChildResult).bytesPerEntry,
      protoRatio: median(proto),
      flatshareRatio: median(flat),
      mapNs: median(mine.map((r) => r.mapNs)),
    };
    md += `| ${variant} | ${load} | ${fmt(row.bytesPerEntry)} | **${fmt(row.protoRatio, 3)}×** | ${range(proto)} | ${fmt(row.flatshareRatio, 3)}× | ${range(flat)} | ${fmt(row.mapNs, 1)} |\n`;
    return row;
  });
  mkdirSync('benchmarks/results', { recursive: true });
  writeFileSync('benchmarks/results/buckets.json', `${JSON.stringify({ date: context.date, commit: context.commit, node: process.version, cpu: context.cpu, loadStart: context.loadStart, loadEnd: context.loadEnd, summary, runs }, null, 2)}\n`);
  writeFileSync('benchmarks/results/buckets.md', md);
  console.log(md);
}

if (process.argv[2] === '--child') {
  const variant = process.argv[3] as Variant;
  if (!VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}`);
  process.stdout.write(JSON.stringify(await child(variant, Number(process.argv[4]))));
} else {
  main();
}
