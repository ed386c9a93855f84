/**
 * What fresh shared memory costs on this machine, and how much of "set of new
 * keys at 1k" it explains (docs/benchmarks.md, "Fresh memory").
 *
 * The suite's set-new job at 1k fills a pool of 200 brand-new maps, 1,000 keys
 * each. Every flatshare map has its own shared WebAssembly.Memory, so every
 * fill writes into pages the process has never touched, and each first touch
 * of a 4 KiB page is a page fault. A `Map` allocates in V8's heap, whose pages
 * are already mapped. This benchmark measures, each in a fresh child process:
 *
 * - `touch`: TOUCH_MEMORIES fresh shared memories, one write per 4 KiB page to
 *   TOUCH_PAGES of each; ns per page for the first write and for a second
 *   write to the same pages, and minor page faults per page
 *   (`process.resourceUsage()`).
 * - `grow M`: M shared memories alive in the thread, then GROWS grows by one
 *   64 KiB page, round robin over them; the median time of one `grow`. V8 11.3
 *   visits every shared memory of the isolate on a grow, so this rises with M.
 * - `fill <int32 | string>`: the suite's set-new workload at 1k, hand-timed: POOL_MAPS fresh
 *   maps (made untimed) each filled with FILL_ENTRIES keys and dropped, for
 *   int32 and 16-char string keys (int32 values), with the default capacity,
 *   the default capacity with every page of the fresh memory written once
 *   before the timed fill (preTouch), and presized to FILL_ENTRIES; `Map`
 *   (`new Map()` and the same fill) in the same child. ns per insert, minor
 *   faults per fill and the memory's final size. The pre-touched row minus
 *   the plain one is what the first touches cost in a fill.
 *   Before each flatshare variant the child lets its job end and collects: a
 *   map is kept alive until the end of the job that made it (lib/recovery.ts
 *   registers it through a WeakRef), and every live shared memory makes a grow
 *   slower. Before the Map fill it only lets its job end (see mapFill).
 *
 * Not benchmark.js: every timed operation here consumes fresh memory (a page
 * touched once is no longer fresh), so it cannot be repeated in a cycle.
 * Each fill figure is the median over FILL_ROUNDS rounds (after WARM_ROUNDS
 * discarded ones, variants in alternating order), in one child per key type;
 * after each round's timing every map's size is checked, and every key of the
 * last map filled.
 *
 * Run: `npm run bench:pages` (builds first, ~30 s). Writes
 * benchmarks/results/pages.{json,md}, with the commit measured.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { SharedFlatMap } from '../lib/index.js';
import { WASM_PAGE_BYTES } from '../lib/memory.js';
import { wasmApi, type SharedWasmMemory, type WasmApi } from '../lib/wasm/api.js';
import { gitCommit } from './git.js';
import { stringKey } from './keys.js';
import { formatLoad, median } from './measure.js';
import { Prng, distinctKeys } from './prng.js';

/** The OS page: the unit a first touch faults in. */
const OS_PAGE_BYTES = 4096;
const INT_BYTES = 4;
const KIB = 1024;
const NS_PER_US = 1000;
const TOUCH_MEMORIES = 100;
/** Pages touched per memory in `touch`: one wasm page (64 KiB, about what a 1k fill writes). */
const TOUCH_PAGES = WASM_PAGE_BYTES / OS_PAGE_BYTES;
/** A touched memory is one wasm page, and cannot grow. */
const TOUCH_MEMORY_PAGES = 1;
/** Words written in each touched page: the first pass writes FIRST_WORD, the second SECOND_WORD. */
const FIRST_WORD = 0;
const SECOND_WORD = 1;
/** A grown memory starts at one wasm page and grows by GROW_PAGES at a time, up to GROWS times. */
const GROWN_MEMORY_PAGES = 1;
const GROW_PAGES = 1;
const MEMORY_COUNTS = [1, 10, 100, 1000];
const GROWS = 41;
/** The suite's pool at 1k (case.ts POOL_ENTRIES / 1,000) and its size. */
const POOL_MAPS = 200;
const FILL_ENTRIES = 1000;
const WARM_ROUNDS = 2;
const FILL_ROUNDS = 8;
/** maxBytes of the filled maps: the suite's set-new maps (case.ts setNewMaxBytes at 1k). */
const FILL_MAX_BYTES = 16 << 20;
const SEED = 0x9a6e;

const gc = (globalThis as { gc?: () => void }).gc;

function minorFaults(): number {
  return process.resourceUsage().minorPageFault;
}

function api(): WasmApi {
  if (wasmApi === undefined) throw new Error('this benchmark needs WebAssembly');
  return wasmApi;
}

function newMemory(pages: number, maximum: number): SharedWasmMemory {
  return new (api().Memory)({ initial: pages, maximum, shared: true });
}

interface TouchResult {
  firstNsPerPage: number;
  secondNsPerPage: number;
  faultsPerPage: number;
}

/** One write per OS page to the first TOUCH_PAGES pages of TOUCH_MEMORIES fresh memories, twice. */
function touch(): TouchResult {
  const stride = OS_PAGE_BYTES / INT_BYTES;
  const views: Int32Array[] = [];
  for (let m = 0; m < TOUCH_MEMORIES; m++) views.push(new Int32Array(newMemory(TOUCH_MEMORY_PAGES, TOUCH_MEMORY_PAGES).buffer));
  const pages = TOUCH_MEMORIES * TOUCH_PAGES;
  const timed = (word: number): { ns: number; faults: number } => {
    const f0 = minorFaults();
    const t0 = process.hrtime.bigint();
    for (const v of views) for (let p = 0; p < TOUCH_PAGES; p++) v[p * stride + word] = p + 1;
    const ns = Number(process.hrtime.bigint() - t0);
    return { ns, faults: minorFaults() - f0 };
  };
  const first = timed(FIRST_WORD);
  const second = timed(SECOND_WORD);
  for (const v of views) for (let p = 0; p < TOUCH_PAGES; p++) if (v[p * stride + FIRST_WORD] !== p + 1) throw new Error('touch: a write was lost');
  return { firstNsPerPage: first.ns / pages, secondNsPerPage: second.ns / pages, faultsPerPage: first.faults / pages };
}

/** Median µs of one grow by GROW_PAGES, with `count` shared memories alive, grown round robin (each may grow GROWS times). */
function grow(count: number): number {
  const memories: SharedWasmMemory[] = [];
  for (let m = 0; m < count; m++) memories.push(newMemory(GROWN_MEMORY_PAGES, GROWN_MEMORY_PAGES + GROWS * GROW_PAGES));
  const times: number[] = [];
  for (let g = 0; g < GROWS; g++) {
    const memory = memories[g % count] as SharedWasmMemory;
    const before = memory.buffer.byteLength;
    const t0 = process.hrtime.bigint();
    memory.grow(GROW_PAGES);
    times.push(Number(process.hrtime.bigint() - t0) / NS_PER_US);
    if (memory.buffer.byteLength !== before + GROW_PAGES * WASM_PAGE_BYTES) throw new Error('grow: the memory did not grow');
  }
  return median(times);
}

type KeyType = 'int32' | 'string';
const KEY_TYPES: KeyType[] = ['int32', 'string'];
/** How the fresh maps of a fill are made. */
type Variant = 'default capacity' | 'default capacity, pages pre-touched' | 'presized';
const VARIANTS: Variant[] = ['default capacity', 'default capacity, pages pre-touched', 'presized'];

/**
 * Write every OS page of a fresh map's memory once, untimed, each word
 * rewritten with the value it holds: the map is unchanged (nothing else uses
 * it yet), and the fill that follows takes no page fault in the memory as it
 * is now (pages a later grow adds are still fresh).
 */
function preTouch(memory: SharedWasmMemory): void {
  const words = new Int32Array(memory.buffer);
  const stride = OS_PAGE_BYTES / INT_BYTES;
  for (let at = 0; at < words.length; at += stride) words[at] = words[at] as number;
}

interface FillRound {
  nsPerInsert: number;
  faultsPerFill: number;
  memoryKiB: number;
}

interface FillRow {
  keys: KeyType;
  variant: Variant;
  nsPerInsert: number;
  mapNsPerInsert: number;
  faultsPerFill: number;
  memoryKiB: number;
  roundNs: number[];
  roundMapNs: number[];
}

/** Let the current job end (a WeakRef keeps its target until then). */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Let the current job end, so the maps it made are no longer kept alive, then collect. */
async function collect(): Promise<void> {
  await turn();
  (gc as () => void)();
}

/** One child per key type, so every call site of the fill loops sees one key type. */
async function fillChild(keyType: KeyType): Promise<{ touch: TouchResult; rows: FillRow[] }> {
  if (gc === undefined) throw new Error('fill: run with --expose-gc');
  const ints = distinctKeys(new Prng(SEED), FILL_ENTRIES);
  const keys: Array<number | string> = keyType === 'string' ? Array.from(ints, (k) => stringKey(k)) : Array.from(ints);
  const fillOne = async (variant: Variant): Promise<FillRound> => {
    await collect();
    const pool: Array<SharedFlatMap<number | string, number>> = [];
    for (let m = 0; m < POOL_MAPS; m++) {
      const map = new SharedFlatMap<number | string, number>({
        keys: keyType,
        values: 'int32',
        maxBytes: FILL_MAX_BYTES,
        ...(variant === 'presized' ? { capacity: FILL_ENTRIES } : {}),
      });
      if (variant === 'default capacity, pages pre-touched') preTouch(map.handle.memory);
      pool.push(map);
    }
    const f0 = minorFaults();
    const t0 = process.hrtime.bigint();
    let last = pool[0] as SharedFlatMap<number | string, number>;
    let wrongSizes = 0;
    // As the suite: each map is taken from the pool, filled and dropped (only `last` stays reachable).
    for (let map = pool.pop(); map !== undefined; map = pool.pop()) {
      for (let i = 0; i < FILL_ENTRIES; i++) map.set(keys[i] as number | string, i);
      if (map.size !== FILL_ENTRIES) wrongSizes++;
      last = map;
    }
    const ns = Number(process.hrtime.bigint() - t0);
    const faults = minorFaults() - f0;
    // Checks, untimed: every map's size, and every key of the last map.
    if (wrongSizes > 0) throw new Error(`fill ${keyType}, ${variant}: ${wrongSizes} maps of the wrong size`);
    for (let i = 0; i < FILL_ENTRIES; i++) {
      if (last.get(keys[i] as number | string) !== i) throw new Error(`fill ${keyType}, ${variant}: key ${String(keys[i])}`);
    }
    return { nsPerInsert: ns / (POOL_MAPS * FILL_ENTRIES), faultsPerFill: faults / POOL_MAPS, memoryKiB: last.handle.memory.buffer.byteLength / KIB };
  };
  const mapFill = async (): Promise<number> => {
    // A turn but no gc(): a full collection right before doubles Map's fill time
    // (89-93 against 41-51 ns per insert, int32 keys), since it shrinks the young
    // generation the fill allocates in; the suite's Map never follows a gc().
    await turn();
    const t0 = process.hrtime.bigint();
    let sizes = 0;
    for (let m = 0; m < POOL_MAPS; m++) {
      const map = new Map<number | string, number>();
      for (let i = 0; i < FILL_ENTRIES; i++) map.set(keys[i] as number | string, i);
      sizes += map.size;
    }
    const ns = Number(process.hrtime.bigint() - t0);
    if (sizes !== POOL_MAPS * FILL_ENTRIES) throw new Error('Map fill: sizes');
    return ns / (POOL_MAPS * FILL_ENTRIES);
  };
  const rounds = new Map<Variant, FillRound[]>(VARIANTS.map((v) => [v, []]));
  const mapRounds: number[] = [];
  for (let r = 0; r < WARM_ROUNDS + FILL_ROUNDS; r++) {
    const order = r % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
    const mapNs = await mapFill();
    if (r >= WARM_ROUNDS) mapRounds.push(mapNs);
    for (const variant of order) {
      const result = await fillOne(variant);
      if (r >= WARM_ROUNDS) (rounds.get(variant) as FillRound[]).push(result);
    }
  }
  const rows = VARIANTS.map((variant): FillRow => {
    const rs = rounds.get(variant) as FillRound[];
    return {
      keys: keyType,
      variant,
      nsPerInsert: median(rs.map((x) => x.nsPerInsert)),
      mapNsPerInsert: median(mapRounds),
      faultsPerFill: median(rs.map((x) => x.faultsPerFill)),
      memoryKiB: median(rs.map((x) => x.memoryKiB)),
      roundNs: rs.map((x) => x.nsPerInsert),
      roundMapNs: mapRounds,
    };
  });
  await collect();
  return { touch: touch(), rows };
}

function runChild(args: string[]): unknown {
  const script = fileURLToPath(import.meta.url);
  const result = spawnSync(process.execPath, ['--expose-gc', script, '--child', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (result.status !== 0) throw new Error(`pages child ${args.join(' ')} exited with ${result.status}`);
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? 'null');
}

function main(): void {
  const loadStart = loadavg();
  const commit = gitCommit();
  process.stderr.write('touch\n');
  const touched = runChild(['touch']) as TouchResult;
  const grows: Array<{ memories: number; medianGrowUs: number }> = [];
  for (const count of MEMORY_COUNTS) {
    process.stderr.write(`grow with ${count} shared memories alive\n`);
    grows.push({ memories: count, medianGrowUs: runChild(['grow', String(count)]) as number });
  }
  const fills = KEY_TYPES.map((keyType) => {
    process.stderr.write(`fill, ${keyType} keys\n`);
    return runChild(['fill', keyType]) as { touch: TouchResult; rows: FillRow[] };
  });
  const loadEnd = loadavg();
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const date = new Date().toISOString();
  let md = `# Fresh memory\n\n- Node ${process.version}, ${cpu}, ${cpus().length} cores\n- Date: ${date}\n- Commit: ${commit}\n`;
  md += '- Command: `npm run bench:pages` (= node build/benchmarks/pages.js; one child process per part)\n';
  md += `- Load average (1/5/15 min): ${formatLoad(loadStart)} at the start, ${formatLoad(loadEnd)} at the end\n\n`;
  md += `## First touch of a fresh shared WebAssembly.Memory\n\n${TOUCH_MEMORIES} memories, one write per 4 KiB page to ${TOUCH_PAGES} pages of each.\n\n`;
  md += '| child | first write, ns/page | second write, ns/page | first / second | minor faults per page |\n|---|---:|---:|---:|---:|\n';
  const touches: Array<[string, TouchResult]> = [['touch', touched], ...fills.map((f, i): [string, TouchResult] => [`fill, ${KEY_TYPES[i]} keys (after its rounds)`, f.touch])];
  for (const [label, t] of touches) {
    md += `| ${label} | ${t.firstNsPerPage.toFixed(0)} | ${t.secondNsPerPage.toFixed(1)} | ${(t.firstNsPerPage / t.secondNsPerPage).toFixed(0)}× | ${t.faultsPerPage.toFixed(2)} |\n`;
  }
  md += '\n## Growing a shared memory by one page\n\nMedian of ' + `${GROWS} grows, round robin over the memories, with that many shared memories alive in the thread.\n\n`;
  md += '| shared memories alive | median µs per grow | / with 1 alive |\n|---:|---:|---:|\n';
  const base = grows[0]?.medianGrowUs ?? Number.NaN;
  for (const g of grows) md += `| ${g.memories.toLocaleString('en-US')} | ${g.medianGrowUs.toFixed(1)} | ${(g.medianGrowUs / base).toFixed(1)}× |\n`;
  md += `\n## Filling fresh maps (the suite's set new at 1k)\n\n${POOL_MAPS} fresh flatshare maps per round, made untimed, each filled with ${FILL_ENTRIES.toLocaleString('en-US')} keys (int32 values) and dropped; before each variant the maps of the one before are collected (gc()). \`Map\`: \`new Map()\` and the same fill, ${POOL_MAPS} times, in the same child (one child per key type), after a turn of the event loop but no gc(), which would double its time. Median of ${FILL_ROUNDS} rounds. "Pages pre-touched": every 4 KiB page of the fresh memory written once before the timed fill (it is unchanged), so the difference to the row above is what the first touches cost.\n\n`;
  md += '| keys, capacity | Map ns/insert | flatshare ns/insert (rounds) | flatshare / Map | minor faults per fill | memory at the end, KiB |\n|---|---:|---:|---:|---:|---:|\n';
  const rows = fills.flatMap((f) => f.rows).map((r) => ({ ...r, ratioVsMap: r.nsPerInsert / r.mapNsPerInsert }));
  for (const r of rows) {
    md += `| ${r.keys}, ${r.variant} | ${r.mapNsPerInsert.toFixed(1)} | ${r.nsPerInsert.toFixed(0)} (${r.roundNs.map((x) => x.toFixed(0)).join(' / ')}) | ${r.ratioVsMap.toFixed(2)}× | ${r.faultsPerFill.toFixed(1)} | ${r.memoryKiB.toFixed(0)} |\n`;
  }
  mkdirSync('benchmarks/results', { recursive: true });
  writeFileSync(
    'benchmarks/results/pages.json',
    `${JSON.stringify({ node: process.version, cpu, date, commit, loadStart, loadEnd, touch: touched, grows, fillTouch: fills.map((f) => f.touch), fill: rows }, null, 2)}\n`,
  );
  writeFileSync('benchmarks/results/pages.md', md);
  process.stdout.write(md);
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  const part = process.argv[childAt + 1];
  let out: unknown;
  if (part === 'touch') out = touch();
  else if (part === 'grow') out = grow(Number(process.argv[childAt + 2]));
  else if (part === 'fill' && KEY_TYPES.includes(process.argv[childAt + 2] as KeyType)) out = await fillChild(process.argv[childAt + 2] as KeyType);
  else throw new Error('--child needs touch, grow <memories> or fill <int32 | string>');
  process.stdout.write(`${JSON.stringify(out)}\n`);
} else {
  main();
}
