/**
 * flatshare benchmark suite: `npm run bench` (full run, updates docs/benchmarks.md)
 * or `node build/benchmarks/run.js [--quick] [--filter <substring>] [--seed <n>]`.
 *
 * Dimensions:
 *
 * Single thread (case.ts), int32 keys and values:
 *   implementation  flatshare (the WebAssembly int32 probe: every word an atomic load)
 *                   × Map (baseline, same process, same keys)
 *                   × flatshare strict-atomics (child started with FLATSHARE_STRICT_ATOMICS=1:
 *                     the JS read paths read every window word via Atomics.load, the path weakly
 *                     ordered CPUs take; the int32 probe is the same in both children)
 *   operation       get hit · get miss · set new key (into an empty default-capacity map,
 *                   every resize included) · overwrite (set of a present key) · delete (present key)
 *   size            1k · 100k · 1M entries (--quick: 1k and 100k)
 *   key             uniformly random distinct int32 keys from a seeded PRNG (seed printed)
 *
 * Single thread, 16-char ASCII string keys (string-case.ts, same child and method):
 *   implementation  flatshare × Map (same process, same string objects); strict-atomics
 *                   child for get hit at 100k (int32 and short string values)
 *   operation × value   get hit → int32 · get miss · get hit → short string (10-20 chars) ·
 *                   get hit → 1 KiB string · set new key · overwrite · delete (the last three
 *                   with int32 values)
 *   size            1k · 100k · 1M (1 KiB values: 1k and 100k only; 1M would hold 1 GiB of
 *                   values on each side)
 *   hasher          murmur3 (hashers.default) everywhere; fnv1a, xxhash32, xxhash64 on get hit
 *                   → int32 at 100k
 *   plus            shared bytes per entry, string -> string (16-char keys and values),
 *                   in the bytes child
 *
 * Multi-worker (mt-case.ts + mt-worker.ts), int32 values:
 *   key type        int32 · 16-char string (keys.ts KEY_TYPES; a key type flatshare does not
 *                   implement yet is reported "not yet supported" and lights up once it lands)
 *   implementation  flatshare · Map copy in every worker · broker (main-thread Map behind
 *                   postMessage, 1 key and 64 keys per message) · lmdb-js get in every worker
 *                   (default options, and cache: true)
 *   read share      100 % · 90 % · 50 % reads (rest: overwrites) · reads while one more worker
 *                   writes (flatshare; the baselines are measured read-only)
 *   workers         1 · 2 · 4 (4 oversubscribes the 2 cores)
 *   size            1k · 100k · 1M entries (--quick: 1k and 100k)
 *   plus            reader get latency while a 1M-entry table migrates (p50/p99/p99.9) ·
 *                   time until a set is visible in another worker vs a postMessage broadcast ·
 *                   shared bytes per entry vs the V8 heap of a Map copy per worker
 *
 * Method:
 * - One child process per (operation, size, read path): `build/benchmarks/case.js`
 *   with a JSON config, so JIT state and heap never carry over between cases.
 *   flatshare and Map are measured in the SAME child on the SAME keys, in 3
 *   interleaved rounds (Map, flatshare / flatshare, Map / Map, flatshare), so
 *   every ratio is a same-run ratio and a burst of load from other jobs on this
 *   shared machine lands on both sides. Children run one at a time.
 * - The headline case (int32 get hit at 100k, plain read path) runs in HEADLINE_CHILDREN
 *   children on the same keys; the tables show the first, the target row the median and
 *   range of all of them, and the verdict is the median child's.
 * - Each benchmark.js invocation is a batch (1,000 ops for get/overwrite;
 *   min(1,000, size/2) for delete; `size` inserts for set new) over pre-generated
 *   keys; ns/op = mean of the benchmark.js samples of all rounds / batch.
 *   Results go into a sink that is printed, so the loops cannot be eliminated.
 * - Each child first runs every workload once and checks that flatshare and Map
 *   agree on every key the case uses (and again after timing); a disagreement
 *   fails the child and the whole run (exit status 1).
 * - Shared bytes per entry (int32 -> int32 and string -> string) come from one more child.
 * - os.loadavg() is recorded at the start and end of the run and before every job
 *   (string rows carry the 1-minute value of their job): the machine is shared.
 * - Multi-worker jobs: one child per (key type, size) runs every cell (impl × mix ×
 *   worker count) with the same workers, in 3 interleaved rounds (order reversed
 *   every other round; each cell reports the median round), so ratios between implementations are same-process, same-run ratios.
 *   Each worker smoke-checks an implementation (values read back = values written)
 *   before it first times it; the child checks every key after the last cell.
 *
 * Output: benchmarks/results/latest.json (array of rows), benchmarks/results/latest.md,
 * and, on a full run (no --quick, no --filter), the generated block of docs/benchmarks.md.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KEY_TYPES } from './keys.js';
import { addMtOutput, emptyMtResults, mtJsonRows, throughputSvg } from './mt-report.js';
import { MT_IMPLS, WORKER_COUNTS, type MtConfig, type MtOutput } from './mt-types.js';
import { deriveSeed } from './prng.js';
import {
  BYTES_TARGET,
  GET_HIT_TARGET,
  latestMarkdown,
  sizeLabel,
  updateDocs,
  type BytesResultRow,
  type Environment,
  type Report,
  type ResultRow,
} from './report.js';
import { stringRowsOf, type StringResultRow } from './string-report.js';
import {
  OPERATIONS,
  type BytesOutput,
  type BytesRow,
  type CaseOutput,
  type ChildConfig,
  type ChildOutput,
  type HasherName,
  type Operation,
  type ReadPath,
  type StringBytesRow,
  type StringCaseOutput,
  type StringValueKind,
} from './types.js';

const FULL_SIZES = [1_000, 100_000, 1_000_000] as const;
const QUICK_SIZES = [1_000, 100_000] as const;
/** maxTime is per implementation and case, split over the interleaved rounds (case.ts). */
const FULL = { maxTime: 2, minSamples: 5 };
const QUICK = { maxTime: 0.25, minSamples: 3 };
/** Multi-worker cells: timed window and warm-up per cell (ms), interleaved rounds. */
const MT_FULL = { cellMs: 300, warmMs: 100, rounds: 3 };
const MT_QUICK = { cellMs: 80, warmMs: 30, rounds: 1 };
/** Migration latency is measured on a table of this many entries (--quick: 100k). */
const MIGRATION_SIZE = { full: 1_000_000, quick: 100_000 };
const VISIBILITY_ITERATIONS = { full: 5000, quick: 1000 };
/**
 * Single-thread string-key cases (16-char keys): operation x value kind, at
 * every size up to maxSize. 1 KiB values stop at 100k: at 1M they would hold
 * 1 GiB of values on each side.
 */
const STRING_CASES: ReadonlyArray<{ op: Operation; values: StringValueKind; maxSize: number }> = [
  { op: 'get-hit', values: 'int32', maxSize: Infinity },
  { op: 'get-miss', values: 'int32', maxSize: Infinity },
  { op: 'get-hit', values: 'short', maxSize: Infinity },
  { op: 'get-hit', values: '1k', maxSize: 100_000 },
  { op: 'set-new', values: 'int32', maxSize: Infinity },
  { op: 'overwrite', values: 'int32', maxSize: Infinity },
  { op: 'delete', values: 'int32', maxSize: Infinity },
];
/** The non-default hashers are compared on the 16-char key -> int32 get hit at this size. */
const HASHER_SIZE = 100_000;
const OTHER_HASHERS: readonly HasherName[] = ['fnv1a', 'xxhash32', 'xxhash64'];
/** String cases also measured on the strict-atomics read path (arm64 estimate). */
const STRING_STRICT: ReadonlyArray<{ op: Operation; values: StringValueKind; size: number }> = [
  { op: 'get-hit', values: 'int32', size: 100_000 },
  { op: 'get-hit', values: 'short', size: 100_000 },
];
/** Default seed: fixed, so successive full runs time the same keys. */
const DEFAULT_SEED = 0x5eed_f1a7;
/** Child processes that time the headline case (int32 get hit at 100k): the first, plus repeats. */
const HEADLINE_CHILDREN = 5;
/** A child that runs longer than this is killed and the run fails. */
const CHILD_TIMEOUT_MS = 10 * 60 * 1000;

const here = dirname(fileURLToPath(import.meta.url)); // build/benchmarks
const repoRoot = join(here, '..', '..');
const caseScript = join(here, 'case.js');
const mtScript = join(here, 'mt-case.js');
const resultsDir = join(repoRoot, 'benchmarks', 'results');
const docsFile = join(repoRoot, 'docs', 'benchmarks.md');

interface Args {
  quick: boolean;
  filter: string | undefined;
  seed: number;
}

const USAGE = `usage: node build/benchmarks/run.js [--quick] [--filter <substring>] [--seed <n>]
  --quick            short maxTime (${QUICK.maxTime} s), sizes 1k and 100k only
  --filter <s>       only jobs whose id contains <s>; ids look like get-hit/100k/plain,
                     set-new/1M/strict, str-get-hit/100k/murmur3, str-get-hit-short/1k/murmur3,
                     str-get-hit/100k/fnv1a, str-get-hit/100k/murmur3/strict, str-set-new/1M/murmur3,
                     bytes, mt/int32/100k, mt/string/1k,
                     migration/int32/1M, visibility/int32, memory/int32
  --seed <n>         PRNG seed (default ${DEFAULT_SEED})
A full run (no --quick, no --filter) also rewrites the generated block of docs/benchmarks.md.`;

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, filter: undefined, seed: DEFAULT_SEED };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) fail(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') args.quick = true;
    else if (a === '--filter') args.filter = value();
    else if (a?.startsWith('--filter=')) args.filter = a.slice('--filter='.length);
    else if (a === '--seed') args.seed = parseSeed(value());
    else if (a?.startsWith('--seed=')) args.seed = parseSeed(a.slice('--seed='.length));
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else fail(`unknown argument ${a}`);
  }
  return args;
}

function parseSeed(raw: string): number {
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) fail(`--seed must be an integer; got ${raw}`);
  return seed >>> 0;
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n${USAGE}\n`);
  process.exit(64);
}

interface Job {
  id: string;
  config: ChildConfig | MtConfig;
  readPath: ReadPath;
  /** A repeat of the headline case: its ratio goes to the headline's spread, not into the tables. */
  headlineRepeat?: true;
}

function jobs(args: Args, sizes: readonly number[], timing: { maxTime: number; minSamples: number }): Job[] {
  const list: Job[] = [];
  for (const op of OPERATIONS) {
    for (const size of sizes) {
      // Same seed for both read paths: the strict child times exactly the same keys.
      const seed = deriveSeed(args.seed, `${op}/${size}`);
      for (const readPath of ['plain', 'strict'] as const) {
        list.push({
          id: `${op}/${sizeLabel(size)}/${readPath}`,
          readPath,
          config: { kind: 'timing', op, size, seed, ...timing, impls: ['Map', 'flatshare'] },
        });
      }
    }
  }
  // The headline case again in more children (same seed, same keys): one child's ratio moves by
  // ±10 % between runs on this machine, so its verdict is the median child's (report.ts targetsTable).
  const headline = list.find((j) => j.id === `${GET_HIT_TARGET.op}/${sizeLabel(GET_HIT_TARGET.size)}/plain`);
  if (headline !== undefined) {
    for (let n = 2; n <= HEADLINE_CHILDREN; n++) list.push({ ...headline, id: `${headline.id}/repeat-${n}`, headlineRepeat: true });
  }
  const stringJob = (op: Operation, values: StringValueKind, size: number, hasher: HasherName, readPath: ReadPath): Job => {
    const name = `str-${op}${values === 'int32' ? '' : `-${values}`}`;
    return {
      id: `${name}/${sizeLabel(size)}/${hasher}${readPath === 'strict' ? '/strict' : ''}`,
      readPath,
      // Same seed for every hasher and read path: identical keys.
      config: { kind: 'string-timing', op, values, hasher, size, seed: deriveSeed(args.seed, `${name}/${size}`), ...timing, impls: ['Map', 'flatshare'] },
    };
  };
  for (const c of STRING_CASES) {
    for (const size of sizes) if (size <= c.maxSize) list.push(stringJob(c.op, c.values, size, 'murmur3', 'plain'));
  }
  if (sizes.includes(HASHER_SIZE)) for (const hasher of OTHER_HASHERS) list.push(stringJob('get-hit', 'int32', HASHER_SIZE, hasher, 'plain'));
  for (const c of STRING_STRICT) if (sizes.includes(c.size)) list.push(stringJob(c.op, c.values, c.size, 'murmur3', 'strict'));
  list.push({ id: 'bytes', readPath: 'plain', config: { kind: 'bytes', sizes: [...sizes], seed: deriveSeed(args.seed, 'bytes') } });
  const mt = args.quick ? MT_QUICK : MT_FULL;
  const scale = args.quick ? 'quick' : 'full';
  for (const keyType of KEY_TYPES) {
    for (const size of sizes) {
      const id = `mt/${keyType}/${sizeLabel(size)}`;
      list.push({
        id,
        readPath: 'plain',
        config: { kind: 'mt-throughput', keyType, size, seed: deriveSeed(args.seed, id), impls: [...MT_IMPLS], workerCounts: [...WORKER_COUNTS], ...mt },
      });
    }
    const migrationSize = MIGRATION_SIZE[scale];
    const migrationId = `migration/${keyType}/${sizeLabel(migrationSize)}`;
    list.push({ id: migrationId, readPath: 'plain', config: { kind: 'mt-migration', keyType, size: migrationSize, seed: deriveSeed(args.seed, migrationId), steadyMs: 300 } });
    list.push({ id: `visibility/${keyType}`, readPath: 'plain', config: { kind: 'mt-visibility', keyType, seed: deriveSeed(args.seed, `visibility/${keyType}`), iterations: VISIBILITY_ITERATIONS[scale] } });
    list.push({ id: `memory/${keyType}`, readPath: 'plain', config: { kind: 'mt-memory', keyType, sizes: [...sizes], seed: deriveSeed(args.seed, `memory/${keyType}`) } });
  }
  return args.filter === undefined ? list : list.filter((j) => j.id.includes(args.filter as string));
}

function runChild(job: Job): Promise<ChildOutput | MtOutput> {
  const env = { ...process.env };
  if (job.readPath === 'strict') env.FLATSHARE_STRICT_ATOMICS = '1';
  else delete env.FLATSHARE_STRICT_ATOMICS;
  return new Promise((resolve, reject) => {
    const script = job.config.kind.startsWith('mt-') ? mtScript : caseScript;
    const child = spawn(process.execPath, ['--expose-gc', script, JSON.stringify(job.config)], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${job.id}: child ${child.pid} killed after ${CHILD_TIMEOUT_MS / 1000} s`));
    }, CHILD_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${job.id}: child exited with ${signal ?? `status ${code}`}${code === 2 ? ' (smoke check failed: flatshare and Map disagree)' : ''}`));
        return;
      }
      const last = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as ChildOutput | MtOutput);
      } catch {
        reject(new Error(`${job.id}: child printed no JSON result: ${JSON.stringify(stdout.slice(-200))}`));
      }
    });
  });
}

function rowsOf(output: CaseOutput): ResultRow[] {
  const map = output.measurements.find((m) => m.impl === 'Map');
  return output.measurements.map((m) => ({
    case: output.op,
    impl: m.impl === 'Map' ? 'Map' : output.readPath === 'strict' ? 'flatshare-strict' : 'flatshare',
    size: output.size,
    nsPerOp: m.nsPerOp,
    rme: m.rme,
    samples: m.samples,
    ratioVsMap: map === undefined ? Number.NaN : m.nsPerOp / map.nsPerOp,
    readPath: output.readPath,
    batch: m.batch,
    medianNsPerOp: m.medianNsPerOp,
    roundNsPerOp: m.roundNsPerOp,
    seed: output.seed,
  }));
}

function bytesRowsOf(bytes: BytesRow[]): BytesResultRow[] {
  return bytes.flatMap((b): BytesResultRow[] => [
    { case: 'bytes-per-entry', impl: 'flatshare', size: b.size, variant: 'presized', bufferBytes: b.presizedBytes, bytesPerEntry: b.presizedBytesPerEntry, targetBytesPerEntry: BYTES_TARGET },
    { case: 'bytes-per-entry', impl: 'flatshare', size: b.size, variant: 'grown', bufferBytes: b.grownBytes, bytesPerEntry: b.grownBytesPerEntry, targetBytesPerEntry: BYTES_TARGET },
  ]);
}

function stringBytesRowsOf(bytes: StringBytesRow[]): unknown[] {
  return bytes.flatMap((b) => [
    { case: 'bytes-per-entry', keys: 'string16', values: 'string16', impl: 'flatshare', size: b.size, variant: 'presized', bufferBytes: b.presizedBytes, bytesPerEntry: b.presizedBytesPerEntry, keyBytes: b.keyBytes, valueBytes: b.valueBytes, targetBytesPerEntry: b.targetBytesPerEntry },
    { case: 'bytes-per-entry', keys: 'string16', values: 'string16', impl: 'flatshare', size: b.size, variant: 'grown', bufferBytes: b.grownBytes, bytesPerEntry: b.grownBytesPerEntry, keyBytes: b.keyBytes, valueBytes: b.valueBytes, targetBytesPerEntry: b.targetBytesPerEntry, tableBytesPerEntry: b.grownTableBytesPerEntry },
  ]);
}

function commandLine(): string {
  const argv = process.argv.slice(2).join(' ');
  const direct = `node ${relative(repoRoot, process.argv[1] ?? 'build/benchmarks/run.js')}${argv === '' ? '' : ` ${argv}`}`;
  if (process.env.npm_lifecycle_event === 'bench') return `npm run bench${argv === '' ? '' : ` -- ${argv}`}  (= ${direct})`;
  return direct;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const sizes = args.quick ? QUICK_SIZES : FULL_SIZES;
  const timing = args.quick ? QUICK : FULL;
  const list = jobs(args, sizes, timing);
  if (list.length === 0) fail(`--filter ${args.filter} matches no job`);
  const started = performance.now();
  process.stderr.write(`bench: ${list.length} jobs, seed ${args.seed}, maxTime ${timing.maxTime} s, minSamples ${timing.minSamples}\n`);

  const rows: ResultRow[] = [];
  const headlineRepeats: number[] = [];
  const stringRows: StringResultRow[] = [];
  let bytes: BytesRow[] = [];
  let stringBytes: StringBytesRow[] = [];
  const loadAvgStart = os.loadavg();
  const loadAvg1Range: [number, number] = [Infinity, -Infinity];
  const mtResults = emptyMtResults();
  for (const [i, job] of list.entries()) {
    const load1 = os.loadavg()[0] ?? Number.NaN;
    loadAvg1Range[0] = Math.min(loadAvg1Range[0], load1);
    loadAvg1Range[1] = Math.max(loadAvg1Range[1], load1);
    process.stderr.write(`[${i + 1}/${list.length}] ${job.id} (load average ${load1.toFixed(2)})\n`);
    let output: ChildOutput | MtOutput;
    try {
      output = await runChild(job);
    } catch (error) {
      process.stderr.write(`bench: FAILED ${error instanceof Error ? error.message : String(error)}\nbench: no result files written\n`);
      process.exit(1);
    }
    if (output.kind === 'bytes') {
      bytes = (output as BytesOutput).rows;
      stringBytes = (output as BytesOutput).stringRows;
    } else if (output.kind === 'timing' && job.headlineRepeat === true) {
      const flatshare = rowsOf(output).find((r) => r.impl === 'flatshare');
      if (flatshare !== undefined) headlineRepeats.push(flatshare.ratioVsMap);
    } else if (output.kind === 'timing') rows.push(...rowsOf(output));
    else if (output.kind === 'string-timing') stringRows.push(...stringRowsOf(output as StringCaseOutput, load1));
    else addMtOutput(mtResults, output);
  }

  const full = !args.quick && args.filter === undefined;
  const partial = [args.quick ? '--quick' : '', args.filter !== undefined ? `--filter ${args.filter}` : ''].filter((s) => s !== '').join(', ');
  const env: Environment = {
    node: process.versions.node,
    v8: process.versions.v8,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
    command: commandLine(),
    seed: args.seed,
    maxTime: timing.maxTime,
    minSamples: timing.minSamples,
    wallSeconds: (performance.now() - started) / 1000,
    partial: full ? undefined : partial,
    loadAvgStart,
    loadAvgEnd: os.loadavg(),
    loadAvg1Range,
  };
  const first = rows.find((r) => r.case === GET_HIT_TARGET.op && r.size === GET_HIT_TARGET.size && r.impl === 'flatshare' && r.readPath === 'plain');
  const headlineRatios = first === undefined ? [] : [first.ratioVsMap, ...headlineRepeats];
  const report: Report = { env, rows, bytes, ops: OPERATIONS, sizes, failures: [], mt: mtResults, mtSizes: sizes, stringRows, stringBytes, headlineRatios };

  mkdirSync(resultsDir, { recursive: true });
  const headlineJson = headlineRatios.length > 1 ? [{ case: 'headline-children', op: GET_HIT_TARGET.op, size: GET_HIT_TARGET.size, impl: 'flatshare', ratiosVsMap: headlineRatios }] : [];
  const json: unknown[] = [...rows, ...headlineJson, ...stringRows, ...bytesRowsOf(bytes), ...stringBytesRowsOf(stringBytes), ...mtJsonRows(mtResults)];
  for (const keyType of KEY_TYPES) {
    const svg = throughputSvg(mtResults, keyType);
    if (svg !== undefined) writeFileSync(join(resultsDir, `throughput-${keyType}.svg`), svg);
  }
  writeFileSync(join(resultsDir, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  const md = latestMarkdown(report);
  writeFileSync(join(resultsDir, 'latest.md'), md);
  process.stdout.write(md);
  process.stderr.write(`bench: wrote ${relative(repoRoot, join(resultsDir, 'latest.json'))} and latest.md in ${env.wallSeconds.toFixed(0)} s\n`);
  if (full) {
    writeFileSync(docsFile, updateDocs(readFileSync(docsFile, 'utf8'), report));
    process.stderr.write(`bench: updated ${relative(repoRoot, docsFile)}\n`);
  }
}

await main();
