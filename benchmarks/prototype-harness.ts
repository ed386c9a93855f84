/**
 * What the prototype benchmarks (benchmarks/buckets.ts, benchmarks/probes.ts,
 * benchmarks/bucket-writes.ts) share: assembling a prototype .wat over a
 * shared memory, a lookup timing loop with its own source text, running the
 * script itself as a child process for one configuration, the parent's
 * alternating rounds over its configurations, and its report's header.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { gitCommit } from './git.js';
import { formatLoad } from './measure.js';
import wabtInit from 'wabt';
import { SharedFlatMap } from '../lib/index.js';
import { WASM_PAGE_BYTES } from '../lib/memory.js';
import { Prng, distinctKeys, sampleKeys } from './prng.js';
import { instantiateOver, wasmApi, type SharedWasmMemory, type WasmApi } from '../lib/wasm/api.js';

/**
 * Where a prototype's own table starts (bytes). Below it sit zero words, so
 * the epoch word (byte 128, as in the library's header) reads generation 0.
 */
export const PROTO_TABLE_BASE_BYTES = 4096;
/** A wasm memory32 holds at most 65,536 pages of 64 KiB. */
const MAX_PAGES = 65536;

/** A prototype probe: the five arguments and the f64 answer of lib/wasm/read-int32.wat getI32 (value, MISS or RETRY). */
export type Probe = (k: number, hash: number, slots: number, capacity: number, gen: number) => number;

/** A zeroed shared wasm memory of at least `bytes` bytes, for a prototype's own table. */
export function prototypeMemory(bytes: number): SharedWasmMemory {
  return new (wasmApi as WasmApi).Memory({ initial: Math.ceil(bytes / WASM_PAGE_BYTES), maximum: MAX_PAGES, shared: true });
}

/** Something with a Map-like `get` of int32 keys. */
export interface Getter {
  get(key: number): number | undefined;
}

/** Something with Map-like `set` and `get` of int32 keys and values. */
export interface Store extends Getter {
  set(k: number, v: number): unknown;
}

/** Throw unless `got` holds what `want` holds for every one of `keys` (the check before timing). */
export function checkAgainstMap(what: string, want: Map<number, number>, got: Getter, keys: Int32Array): void {
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as number;
    if (got.get(k) !== want.get(k)) throw new Error(`${what}: key ${k} holds ${got.get(k)}, Map ${want.get(k)}`);
  }
}

/** Assemble the .wat at `path` (threads and SIMD enabled) and instantiate it over `memory`; returns its exports. */
export async function instantiateWat(path: string, memory: SharedWasmMemory): Promise<unknown> {
  const wabt = await wabtInit();
  const parsed = wabt.parseWat(path, readFileSync(path, 'utf8'), { threads: true, simd: true });
  try {
    return instantiateOver(new (wasmApi as WasmApi).Module(parsed.toBinary({}).buffer), memory);
  } finally {
    parsed.destroy();
  }
}

/**
 * A timing loop with its own source text (`label` is part of it), so each
 * implementation keeps its own call feedback: `passes` passes of `impl.get`
 * over `hits`; returns ns per get.
 */
export function lookupTimer(label: string, impl: Getter, hits: Int32Array, passes: number): () => number {
  const loop = new Function(
    'impl',
    'hits',
    'passes',
    `// ${label}
    let sum = 0;
    const t0 = process.hrtime.bigint();
    for (let p = 0; p < passes; p++) for (let i = 0; i < hits.length; i++) sum += impl.get(hits[i]);
    const ns = Number(process.hrtime.bigint() - t0) / (passes * hits.length);
    if (sum === -1) console.log(sum);
    return ns;`,
  ) as (impl: Getter, hits: Int32Array, passes: number) => number;
  return () => loop(impl, hits, passes);
}

/**
 * Run `script` (the calling benchmark's own file) as a child process with
 * `--child ...args` and return the JSON it writes to stdout. Throws when the
 * child fails.
 */
export function runChildScript<R>(script: string, args: readonly string[]): R {
  const result = spawnSync(process.execPath, [script, '--child', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (result.status !== 0) throw new Error(`child ${args.join(' ')} failed with status ${result.status}`);
  return JSON.parse(result.stdout) as R;
}

/** The same int32 lookup workload for every implementation of a child process. */
export interface LookupWorkload {
  /** `entries` distinct random keys; key i has value i. */
  keys: Int32Array;
  /** `lookups` keys sampled from `keys`: what the timing loops look up. */
  hits: Int32Array;
  /** Keys not in `keys`, for the correctness check. */
  misses: Int32Array;
  /** A `Map` and a default (grown) SharedFlatMap holding every key. */
  map: Map<number, number>;
  flat: SharedFlatMap<number, number>;
}

/** Build the workload from `seed`: keys, sampled hits, absent keys, and the two maps filled. */
export function lookupWorkload(seed: number, entries: number, lookups: number, missChecks: number): LookupWorkload {
  const prng = new Prng(seed);
  const keys = distinctKeys(prng, entries);
  const present = new Set(keys);
  const hits = sampleKeys(prng, keys, lookups);
  const misses = distinctKeys(prng, missChecks, present);
  const map = new Map<number, number>();
  const flat = new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
  for (let i = 0; i < keys.length; i++) {
    map.set(keys[i] as number, i);
    flat.set(keys[i] as number, i);
  }
  return { keys, hits, misses, map, flat };
}

/** What a prototype benchmark's report says about the run that made it. */
export interface RunContext {
  readonly commit: string;
  readonly cpu: string;
  readonly date: string;
  readonly loadStart: number[];
  readonly loadEnd: number[];
}

/**
 * Run every configuration `rounds` times, forward in even rounds and reversed
 * in odd ones (so drift in the machine's speed hits every configuration
 * alike), calling `log` after each run. Returns the results in run order and
 * the run's context (commit, CPU, date, load average before and after).
 */
export function runAlternating<C, R>(
  configs: readonly C[],
  rounds: number,
  run: (config: C) => R,
  log: (round: number, config: C, result: R) => void,
): { runs: R[]; context: RunContext } {
  const loadStart = loadavg();
  const commit = gitCommit();
  const runs: R[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const config of round % 2 === 0 ? configs : [...configs].reverse()) {
      const result = run(config);
      runs.push(result);
      log(round, config, result);
    }
  }
  return { runs, context: { commit, cpu: cpus()[0]?.model ?? 'unknown CPU', date: new Date().toISOString(), loadStart, loadEnd: loadavg() } };
}

/**
 * The report's header lines: Node, CPU and cores (with `nodeNote` after them),
 * date, commit, the command (`command`, markdown), load average.
 */
export function contextLines(context: RunContext, command: string, nodeNote = ''): string {
  return (
    `- Node ${process.version}, ${context.cpu}, ${cpus().length} cores${nodeNote}\n- Date: ${context.date}\n- Commit: ${context.commit}\n` +
    `- Command: ${command}\n` +
    `- Load average (1/5/15 min): ${formatLoad(context.loadStart)} at the start, ${formatLoad(context.loadEnd)} at the end\n`
  );
}

/** "min-max" of `xs`, each with `digits` decimals. */
export function rangeText(xs: number[], digits: number): string {
  return `${Math.min(...xs).toFixed(digits)}-${Math.max(...xs).toFixed(digits)}`;
}
