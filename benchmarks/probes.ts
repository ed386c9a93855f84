/**
 * Probe shapes that keep a seqlock word per slot: do any of them buy the int32
 * get-hit target at 100k entries (BRIEF §6: ≤ 1.0 × `Map.get`)? And how much of
 * SharedFlatMap.get's time is its JS side? (docs/design.md §4, "Probe shapes
 * that keep a seq word per slot".)
 *
 * Every child process builds, from one seed, ENTRIES distinct random int32
 * keys, a `Map` and a default (grown) SharedFlatMap, and times four
 * implementations over the same LOOKUPS sampled hits, interleaved:
 * - `Map`;
 * - `flatshare`: SharedFlatMap.get as shipped;
 * - `ref`: a thin JS wrapper (int32 check, fmix32, one wasm call, the MISS and
 *   RETRY tests; benchmarks/buckets.ts's BucketTable.get) around the library's
 *   own getI32 (the build this CPU reads with), instantiated over the map's
 *   memory and called with its table. flatshare / ref is the cost of
 *   SharedFlatMap.get's JS side beyond the thinnest wrapper;
 * - `proto`: the same thin wrapper around ONE prototype probe
 *   (benchmarks/prototypes/slot-probes.wat): getB or getG read the map's own
 *   table, getV a copy of its entries in a "SoA4" table of the same capacity
 *   and hash. proto / ref is what the probe shape alone changes.
 * Each wrapper is compiled from its own source text, so each wasm call site
 * sees one function (one inlined JS-to-wasm wrapper; docs/design.md §4).
 * Before timing, all four must answer every key and MISS_CHECKS absent keys
 * alike. The parent runs every variant PARENT_ROUNDS times in alternating
 * order and reports medians over children of each child's median per-round ratio.
 *
 * Not benchmark.js: four implementations must take turns inside one process
 * on the same keys (see benchmarks/buckets.ts).
 *
 * Run: `npm run bench:probes` (builds first, ~3 min). Writes
 * benchmarks/results/probes.{json,md}, with the commit measured.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SharedFlatMap } from '../lib/index.js';
import { fmix32 } from '../lib/hashers/murmur3.js';
import { H_HASHER_SEED } from '../lib/layout.js';
import { homeSlot } from '../lib/table.js';
import type { SharedWasmMemory } from '../lib/wasm/api.js';
import { READ_PATH_BUILD, instantiateReadPath } from '../lib/wasm/read-path.js';
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
  type Getter,
  type Probe,
} from './prototype-harness.js';
import { median } from './measure.js';

const ENTRIES = 100_000;
const LOOKUPS = 100_000;
/** Passes over LOOKUPS per timed sample. */
const PASSES = 10;
const WARM_ROUNDS = 2;
const CHILD_ROUNDS = 9;
const PARENT_ROUNDS = 6;
const SEED = 4243;
const MISS_CHECKS = 10_000;
const VARIANTS = ['getB', 'getG', 'getV'] as const;
type Variant = (typeof VARIANTS)[number];
const IMPLS = ['Map', 'flatshare', 'ref', 'proto'] as const;
type Impl = (typeof IMPLS)[number];

/** The SoA4 geometry; slot-probes.wat getV hard-codes the same numbers. */
const SOA_LANES = 4;
const SOA_BLOCK_INTS = 12;
const SOA_KEYS_AT = 4;
const SOA_VALUES_AT = 8;
/** seqlock.ts FULL, as a released seq word with counter 0. */
const FULL_SEQ = 2;
const INT_BYTES = 4;
/** read-path.ts READ_MISS / READ_RETRY, as literals in the generated wrappers. */
const READ_MISS = 4294967296;

const WAT = fileURLToPath(new URL('../../benchmarks/prototypes/slot-probes.wat', import.meta.url));

async function prototypes(memory: SharedWasmMemory): Promise<Record<Variant, Probe>> {
  return (await instantiateWat(WAT, memory)) as Record<Variant, Probe>;
}

/**
 * A thin get around `probe` over a fixed table, compiled from its own source
 * text (`label` is part of it), so its wasm call site sees only `probe`.
 */
function thinGetter(label: string, probe: Probe, seed: number, slots: number, capacity: number, gen: number): Getter {
  const make = new Function(
    'probe',
    'fmix32',
    'seed',
    'slots',
    'capacity',
    'gen',
    `// ${label}
    return { get(key) {
      if (typeof key !== 'number' || (key | 0) !== key) throw new TypeError('not an int32 key');
      const r = probe(key, fmix32(key ^ seed), slots, capacity, gen);
      if (r < ${READ_MISS}) return r;
      if (r === ${READ_MISS}) return undefined;
      throw new Error('RETRY in a table nobody writes');
    } };`,
  ) as (...args: unknown[]) => Getter;
  return make(probe, fmix32, seed, slots, capacity, gen);
}

/** A copy of the map's entries in a SoA4 table of `capacity` slots, same hash: returns its memory and slot-0 word index. */
function soa4Table(keys: Int32Array, seed: number, capacity: number): { memory: SharedWasmMemory; slots: number } {
  const bytes = PROTO_TABLE_BASE_BYTES + (capacity / SOA_LANES) * SOA_BLOCK_INTS * INT_BYTES;
  const memory = prototypeMemory(bytes);
  const words = new Int32Array(memory.buffer);
  const slots = PROTO_TABLE_BASE_BYTES / INT_BYTES;
  const seqAt = (slot: number): number => slots + Math.floor(slot / SOA_LANES) * SOA_BLOCK_INTS + (slot % SOA_LANES);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as number;
    let slot = homeSlot(fmix32(k ^ seed), capacity);
    while (words[seqAt(slot)] !== 0) if (++slot === capacity) slot = 0;
    const at = seqAt(slot);
    words[at] = FULL_SEQ;
    words[at + SOA_KEYS_AT] = k;
    words[at + SOA_VALUES_AT] = i;
  }
  return { memory, slots };
}

interface ChildResult {
  variant: Variant;
  capacity: number;
  /** Median ns per get of each implementation. */
  ns: Record<Impl, number>;
  /** Medians over rounds of per-round ratios. */
  flatshareRatio: number;
  refRatio: number;
  protoRatio: number;
  protoOverRef: number;
  flatshareOverRef: number;
}

async function child(variant: Variant): Promise<ChildResult> {
  const { keys, hits, misses, map, flat } = lookupWorkload(SEED, ENTRIES, LOOKUPS, MISS_CHECKS);
  const internals = SharedFlatMap.unsafeExposeInternals(flat as SharedFlatMap<unknown, unknown>);
  const seed = internals.words[H_HASHER_SEED] as number;
  const { slots, capacity } = internals.table;
  const ref = thinGetter('ref', instantiateReadPath(internals.memory.memory).getI32, seed, slots, capacity, internals.gen);
  let proto: Getter;
  if (variant === 'getV') {
    const soa = soa4Table(keys, seed, capacity);
    proto = thinGetter(variant, (await prototypes(soa.memory))[variant], seed, soa.slots, capacity, 0);
  } else {
    proto = thinGetter(variant, (await prototypes(internals.memory.memory))[variant], seed, slots, capacity, internals.gen);
  }
  const all: Record<Impl, Getter> = { Map: map, flatshare: flat, ref, proto };
  for (const probeKeys of [keys, misses]) {
    for (let i = 0; i < probeKeys.length; i++) {
      const k = probeKeys[i] as number;
      const want = map.get(k);
      for (const name of IMPLS) if (all[name].get(k) !== want) throw new Error(`key ${k}: Map ${want}, ${name} ${all[name].get(k)}`);
    }
  }
  const timers = IMPLS.map((name) => lookupTimer(name, all[name], hits, PASSES));
  const ns: Record<Impl, number[]> = { Map: [], flatshare: [], ref: [], proto: [] };
  for (let round = 0; round < WARM_ROUNDS + CHILD_ROUNDS; round++) {
    const order = round % 2 === 0 ? [0, 1, 2, 3] : [3, 2, 1, 0];
    for (const i of order) {
      const t = (timers[i] as () => number)();
      if (round >= WARM_ROUNDS) ns[IMPLS[i] as Impl].push(t);
    }
  }
  const ratio = (of: number[], to: number[]): number => median(of.map((t, i) => t / (to[i] as number)));
  return {
    variant,
    capacity,
    ns: { Map: median(ns.Map), flatshare: median(ns.flatshare), ref: median(ns.ref), proto: median(ns.proto) },
    flatshareRatio: ratio(ns.flatshare, ns.Map),
    refRatio: ratio(ns.ref, ns.Map),
    protoRatio: ratio(ns.proto, ns.Map),
    protoOverRef: ratio(ns.proto, ns.ref),
    flatshareOverRef: ratio(ns.flatshare, ns.ref),
  };
}

function runChild(variant: Variant): ChildResult {
  return runChildScript<ChildResult>(fileURLToPath(import.meta.url), [variant]);
}

const fmt = (x: number, digits = 3): string => x.toFixed(digits);
const range = (xs: number[]): string => rangeText(xs, 3);

function main(): void {
  const { runs, context } = runAlternating(VARIANTS, PARENT_ROUNDS, runChild, (round, variant, r) =>
    console.log(
      `round ${round + 1}/${PARENT_ROUNDS} ${variant}: Map ${fmt(r.ns.Map, 1)} ns; flatshare ${fmt(r.flatshareRatio)}x, ref ${fmt(r.refRatio)}x, ${variant} ${fmt(r.protoRatio)}x; ${variant} / ref ${fmt(r.protoOverRef)}`,
    ),
  );
  const capacity = (runs[0] as ChildResult).capacity;
  let md = `# Probe shapes with a seq word per slot: int32 get hit, ${ENTRIES.toLocaleString('en-US')} entries\n\n`;
  md += contextLines(context, '`npm run bench:probes` (benchmarks/probes.ts; prototypes benchmarks/prototypes/slot-probes.wat)', `; read build: ${READ_PATH_BUILD}`);
  md += `- ${PARENT_ROUNDS} children per variant, alternating order; each child: ${CHILD_ROUNDS} rounds of ${PASSES} × ${LOOKUPS.toLocaleString('en-US')} hits per implementation, interleaved (order reversed every other round), after ${WARM_ROUNDS} warm-up rounds\n`;
  md += `- Table: the default map grown to ${capacity.toLocaleString('en-US')} slots (load ${fmt(ENTRIES / capacity, 2)}); getV's SoA4 copy has the same capacity and hash\n\n`;
  md += `Medians over children of each child's median per-round ratio (range over children). "ref" is the library's getI32 behind the thinnest JS wrapper; "proto" is the variant behind the same wrapper. So **variant / ref** is the probe shape alone, and **flatshare / ref** is SharedFlatMap.get's JS side.\n\n`;
  md += `| variant | variant / Map | ref / Map | flatshare / Map | **variant / ref** | range | **flatshare / ref** | range | Map ns/get |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n`;
  const summary = VARIANTS.map((variant) => {
    const mine = runs.filter((r) => r.variant === variant);
    const pick = (f: (r: ChildResult) => number): number[] => mine.map(f);
    const row = {
      variant,
      protoRatio: median(pick((r) => r.protoRatio)),
      refRatio: median(pick((r) => r.refRatio)),
      flatshareRatio: median(pick((r) => r.flatshareRatio)),
      protoOverRef: median(pick((r) => r.protoOverRef)),
      flatshareOverRef: median(pick((r) => r.flatshareOverRef)),
      mapNs: median(pick((r) => r.ns.Map)),
    };
    md += `| ${variant} | ${fmt(row.protoRatio)}× | ${fmt(row.refRatio)}× | ${fmt(row.flatshareRatio)}× | **${fmt(row.protoOverRef)}** | ${range(pick((r) => r.protoOverRef))} | **${fmt(row.flatshareOverRef)}** | ${range(pick((r) => r.flatshareOverRef))} | ${fmt(row.mapNs, 1)} |\n`;
    return row;
  });
  mkdirSync('benchmarks/results', { recursive: true });
  writeFileSync('benchmarks/results/probes.json', `${JSON.stringify({ date: context.date, commit: context.commit, node: process.version, cpu: context.cpu, loadStart: context.loadStart, loadEnd: context.loadEnd, summary, runs }, null, 2)}\n`);
  writeFileSync('benchmarks/results/probes.md', md);
  console.log(md);
}

if (process.argv[2] === '--child') {
  const variant = process.argv[3] as Variant;
  if (!VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}`);
  process.stdout.write(JSON.stringify(await child(variant)));
} else {
  main();
}
