/**
 * What the cache-line bucket layout (docs/design.md §10) would cost `set`,
 * measured before anyone builds it: the write side of the prototype
 * (benchmarks/prototypes/bucket-put.wat `putS`, NOT the library) against
 * `Map.set` and the library's own `set`, int32 keys and values, 100k entries.
 *
 * `putS` pays the steps of the library's wasm put (write-int32.wat `$put`):
 * generation announcement, lock intent, CAS of the bucket's seq word, epoch
 * check, insert budget, staged intent, apply, SIZE, release, record cleared;
 * plus the OVERFLOW bits a bucket layout needs. It has no deletes and no
 * resizes, so the library is measured presized too (`capacity: ENTRIES`, no
 * resize during a fill), and both start each fill from a table whose pages
 * were touched before (the library: `clear()`, which alternates between two
 * regions; the prototype: its table zeroed), so no page faults are timed.
 * The JS side of the prototype's `set` is the library's: int32 checks,
 * fmix32(key ^ seed), one wasm call, the status test.
 *
 * Two operations, each timed per child over the same keys, implementations
 * interleaved round by round:
 * - "set new": ENTRIES inserts into an empty table (`Map`: a new `Map`);
 * - "overwrite": ENTRIES sets of present keys in random order.
 * Each child checks, before timing, that the prototype and the library hold
 * what `Map` holds after a fill and after an overwrite pass.
 *
 * Not benchmark.js, for the reason given in benchmarks/buckets.ts. Run:
 * `npm run bench:bucket-writes` (builds first). Writes
 * benchmarks/results/bucket-writes.{json,md}.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SharedFlatMap } from '../lib/index.js';
import { fmix32 } from '../lib/hashers/murmur3.js';
import type { SharedWasmMemory } from '../lib/wasm/api.js';
import { READ_MISS } from '../lib/wasm/read-path.js';
import {
  PROTO_TABLE_BASE_BYTES,
  checkAgainstMap,
  contextLines,
  instantiateWat,
  prototypeMemory,
  rangeText,
  runAlternating,
  runChildScript,
  type Probe,
  type Store,
} from './prototype-harness.js';
import { median } from './measure.js';
import { Prng, distinctKeys, shuffled } from './prng.js';

const ENTRIES = 100_000;
const WARM_ROUNDS = 2;
const CHILD_ROUNDS = 9;
const PARENT_ROUNDS = 5;
const SEED = 4243;
/** Load factors of the prototype: entries ÷ (buckets × BUCKET_SLOTS). */
const LOADS = [0.6, 0.8] as const;
const OPS = ['set-new', 'overwrite'] as const;
type Op = (typeof OPS)[number];

/** Bucket geometry and table header; the .wat files hard-code the same numbers. */
const BUCKET_BYTES = 64;
const BUCKET_SLOTS = 7;
const TABLE_HEADER_BYTES = 128;
const REMAINING_BYTES = 64;
const HASH_SEED = 0x5eed;
const STATUS_SLOW = 2;

const PUT_WAT = fileURLToPath(new URL('../../benchmarks/prototypes/bucket-put.wat', import.meta.url));
const PROBE_WAT = fileURLToPath(new URL('../../benchmarks/prototypes/bucket-probe.wat', import.meta.url));

type Put = (k: number, hash: number, v: number, table: number, buckets: number, gen: number) => number;

class BucketTable implements Store {
  readonly buckets: number;
  readonly memory: SharedWasmMemory;
  private readonly words: Int32Array;
  private put: Put = () => STATUS_SLOW;
  private probe: Probe = () => Number.NaN;
  private readonly gen = 0;

  constructor(load: number) {
    this.buckets = Math.ceil(ENTRIES / (BUCKET_SLOTS * load));
    this.memory = prototypeMemory(PROTO_TABLE_BASE_BYTES + TABLE_HEADER_BYTES + this.buckets * BUCKET_BYTES);
    this.words = new Int32Array(this.memory.buffer);
  }

  async init(): Promise<void> {
    this.put = ((await instantiateWat(PUT_WAT, this.memory)) as { putS: Put }).putS;
    this.probe = ((await instantiateWat(PROBE_WAT, this.memory)) as { getS: Probe }).getS;
    this.clear();
  }

  /** An empty table, its pages already touched; an insert budget for every lane. */
  clear(): void {
    const base = PROTO_TABLE_BASE_BYTES / 4;
    this.words.fill(0, base, base + (TABLE_HEADER_BYTES + this.buckets * BUCKET_BYTES) / 4);
    this.words[base + REMAINING_BYTES / 4] = this.buckets * BUCKET_SLOTS;
  }

  set(key: number, value: number): this {
    if (typeof key !== 'number' || (key | 0) !== key) throw new TypeError('not an int32 key');
    if (typeof value !== 'number' || (value | 0) !== value) throw new TypeError('not an int32 value');
    const r = this.put(key, fmix32(key ^ HASH_SEED), value, PROTO_TABLE_BASE_BYTES, this.buckets, this.gen);
    if (r === STATUS_SLOW) throw new Error('slow path in a table only this thread writes');
    return this;
  }

  get(key: number): number | undefined {
    const r = this.probe(key, fmix32(key ^ HASH_SEED), PROTO_TABLE_BASE_BYTES + TABLE_HEADER_BYTES, this.buckets, this.gen);
    return r < READ_MISS ? r : r === READ_MISS ? undefined : Number.NaN;
  }
}

/** A timing loop with its own source text: `impl.set(keys[i], values[i])` for every i; returns ns per set. */
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

interface ChildResult {
  op: Op;
  load: number;
  mapNs: number;
  flatshareNs: number;
  protoNs: number;
  flatshareRatio: number;
  protoRatio: number;
}


async function child(op: Op, load: number): Promise<ChildResult> {
  const prng = new Prng(SEED);
  const keys = distinctKeys(prng, ENTRIES);
  const values = keys.map((_, i) => i);
  const again = shuffled(prng, keys);
  const newValues = again.map((_, i) => -i);
  const proto = new BucketTable(load);
  await proto.init();
  const flat = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: ENTRIES });
  let map = new Map<number, number>();
  // Correctness first: a fill, then an overwrite pass, all three alike.
  for (const [k, v] of [[keys, values], [again, newValues]] as const) {
    for (let i = 0; i < k.length; i++) {
      map.set(k[i] as number, v[i] as number);
      flat.set(k[i] as number, v[i] as number);
      proto.set(k[i] as number, v[i] as number);
    }
    checkAgainstMap('flatshare', map, flat, keys);
    checkAgainstMap('prototype', map, proto, keys);
  }
  const timers = { Map: setTimer('Map'), flatshare: setTimer('flatshare'), proto: setTimer('proto') };
  const ns: Record<keyof typeof timers, number[]> = { Map: [], flatshare: [], proto: [] };
  for (let round = 0; round < WARM_ROUNDS + CHILD_ROUNDS; round++) {
    if (op === 'set-new') {
      map = new Map();
      flat.clear();
      proto.clear();
    }
    const [k, v] = op === 'set-new' ? [keys, values] : round % 2 === 0 ? [again, values] : [again, newValues];
    const times = {
      Map: timers.Map(map, k, v),
      flatshare: timers.flatshare(flat, k, v),
      proto: timers.proto(proto, k, v),
    };
    if (round >= WARM_ROUNDS) for (const name of Object.keys(times) as (keyof typeof times)[]) ns[name].push(times[name]);
  }
  if (flat.size !== ENTRIES) throw new Error(`flatshare holds ${flat.size} entries`);
  const ratio = (of: number[]): number => median(of.map((t, i) => t / (ns.Map[i] as number)));
  return {
    op,
    load,
    mapNs: median(ns.Map),
    flatshareNs: median(ns.flatshare),
    protoNs: median(ns.proto),
    flatshareRatio: ratio(ns.flatshare),
    protoRatio: ratio(ns.proto),
  };
}

const fmt = (x: number, digits = 2): string => x.toFixed(digits);
const range = (xs: number[]): string => rangeText(xs, 3);

function main(): void {
  const configs = OPS.flatMap((op) => LOADS.map((load) => ({ op, load })));
  const { runs, context } = runAlternating(
    configs,
    PARENT_ROUNDS,
    ({ op, load }) => runChildScript<ChildResult>(fileURLToPath(import.meta.url), [op, String(load)]),
    (round, { op, load }, r) =>
      console.log(`round ${round + 1}/${PARENT_ROUNDS} ${op}@${load}: Map ${fmt(r.mapNs, 1)} ns, flatshare ${fmt(r.flatshareRatio, 3)}x, prototype ${fmt(r.protoRatio, 3)}x`),
  );
  let md = `# Cache-line bucket prototype: int32 set, ${ENTRIES.toLocaleString('en-US')} entries\n\n`;
  md += contextLines(context, '`npm run bench:bucket-writes` (benchmarks/bucket-writes.ts; prototype benchmarks/prototypes/bucket-put.wat)');
  md += `- ${PARENT_ROUNDS} children per config, alternating order; each child: ${CHILD_ROUNDS} rounds of ${ENTRIES.toLocaleString('en-US')} sets per implementation, interleaved, after ${WARM_ROUNDS} warm-up rounds\n\n`;
  md += `Ratios are time per set ÷ \`Map.set\` in the same child (median over rounds, then median and range over children). "flatshare" is the library presized to ${ENTRIES.toLocaleString('en-US')} entries (no resize during a fill; BRIEF §6's "set new" row includes resizes, this one does not).\n\n`;
  md += `| operation | prototype load factor | prototype / Map (median) | range | flatshare / Map (median, same children) | range | Map ns/set (median) |\n|---|---:|---:|---:|---:|---:|---:|\n`;
  const summary = configs.map(({ op, load }) => {
    const mine = runs.filter((r) => r.op === op && r.load === load);
    const proto = mine.map((r) => r.protoRatio);
    const flat = mine.map((r) => r.flatshareRatio);
    const row = { op, load, protoRatio: median(proto), flatshareRatio: median(flat), mapNs: median(mine.map((r) => r.mapNs)) };
    md += `| ${op} | ${load} | **${fmt(row.protoRatio, 3)}×** | ${range(proto)} | ${fmt(row.flatshareRatio, 3)}× | ${range(flat)} | ${fmt(row.mapNs, 1)} |\n`;
    return row;
  });
  mkdirSync('benchmarks/results', { recursive: true });
  writeFileSync('benchmarks/results/bucket-writes.json', `${JSON.stringify({ date: context.date, commit: context.commit, node: process.version, cpu: context.cpu, loadStart: context.loadStart, loadEnd: context.loadEnd, summary, runs }, null, 2)}\n`);
  writeFileSync('benchmarks/results/bucket-writes.md', md);
  console.log(md);
}

if (process.argv[2] === '--child') {
  const op = process.argv[3] as Op;
  if (!OPS.includes(op)) throw new Error(`unknown operation ${op}`);
  process.stdout.write(JSON.stringify(await child(op, Number(process.argv[4]))));
} else {
  main();
}
