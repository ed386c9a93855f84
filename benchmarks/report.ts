/**
 * Turns child outputs into the result files: benchmarks/results/latest.json,
 * benchmarks/results/latest.md and the generated block of docs/benchmarks.md.
 */
import type { KeyType } from './keys.js';
import { median } from './measure.js';
import { mtSections, mtTargetRows, type MtResults } from './mt-report.js';
import { hasherTable, stringBytesTable, stringResultsTable, stringStrictTable, stringTargetRows, type StringResultRow } from './string-report.js';
import type { BytesRow, Operation, ReadPath, StringBytesRow } from './types.js';

/** One row of latest.json for a timing result. */
export interface ResultRow {
  case: Operation;
  impl: 'flatshare' | 'flatshare-strict' | 'Map';
  size: number;
  nsPerOp: number;
  /** benchmark.js relative margin of error, percent. */
  rme: number;
  samples: number;
  /** nsPerOp / the Map's nsPerOp measured in the same child process (1 for Map rows). */
  ratioVsMap: number;
  /** Read path of the child process that measured this row; Map rows exist for both. */
  readPath: ReadPath;
  /** Operations per benchmark.js invocation. */
  batch: number;
  /** Median sample / batch (ns). */
  medianNsPerOp: number;
  /** Mean ns/op of each interleaved round. */
  roundNsPerOp: number[];
  seed: number;
}

/** One row of latest.json for shared bytes per entry (int32 -> int32). */
export interface BytesResultRow {
  case: 'bytes-per-entry';
  impl: 'flatshare';
  size: number;
  /** 'presized': created with capacity = size; 'grown': default capacity, grown by inserts. */
  variant: 'presized' | 'grown';
  bufferBytes: number;
  bytesPerEntry: number;
  /** BRIEF section 6 target. */
  targetBytesPerEntry: number;
}

export interface Environment {
  node: string;
  v8: string;
  cpu: string;
  cores: number;
  platform: string;
  date: string;
  command: string;
  seed: number;
  maxTime: number;
  minSamples: number;
  wallSeconds: number;
  partial: string | undefined;
  /** os.loadavg() (1, 5, 15 min) when the run started and when it ended. */
  loadAvgStart: number[];
  loadAvgEnd: number[];
  /** Lowest and highest 1-minute load average seen at the start of a job. */
  loadAvg1Range: [number, number];
}

export const BYTES_TARGET = 16;
/** BRIEF section 6: int32 key get, hit, 100k entries <= 1.0 x Map.get. */
export const GET_HIT_TARGET = { op: 'get-hit' as Operation, size: 100_000, maxRatio: 1.0 };
/** BRIEF section 6: set of new int32 keys, resizes included <= 2 x Map.set. */
export const SET_NEW_TARGET = { op: 'set-new' as Operation, maxRatio: 2.0 };

const OP_LABEL: Record<Operation, string> = {
  'get-hit': 'get, hit',
  'get-miss': 'get, miss',
  'set-new': 'set, new key (from empty, resizes included)',
  overwrite: 'set, overwrite',
  delete: 'delete (present key)',
};

export function sizeLabel(size: number): string {
  if (size >= 1_000_000 && size % 1_000_000 === 0) return `${size / 1_000_000}M`;
  if (size >= 1000 && size % 1000 === 0) return `${size / 1000}k`;
  return String(size);
}

function ns(value: number | undefined): string {
  if (value === undefined) return '–';
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

function ratio(value: number | undefined): string {
  return value === undefined ? '–' : `${value.toFixed(2)}×`;
}

function find(rows: ResultRow[], op: Operation, size: number, impl: ResultRow['impl'], readPath: ReadPath): ResultRow | undefined {
  return rows.find((r) => r.case === op && r.size === size && r.impl === impl && r.readPath === readPath);
}

export function environmentBlock(env: Environment): string {
  const lines = [
    `- Node ${env.node}, V8 ${env.v8}, ${env.platform}`,
    `- CPU: ${env.cpu}, ${env.cores} cores (shared machine: other jobs may run)`,
    `- Date: ${env.date}`,
    `- Command: \`${env.command}\``,
    `- Seed: ${env.seed} (rerun with \`--seed ${env.seed}\` for the same keys); benchmark.js maxTime ${env.maxTime} s, minSamples ${env.minSamples} per measurement`,
    `- Total run time: ${env.wallSeconds.toFixed(0)} s`,
    `- Load average (\`uptime\`, 1/5/15 min; 2 cores): ${env.loadAvgStart.map((l) => l.toFixed(2)).join(' / ')} at the start, ${env.loadAvgEnd.map((l) => l.toFixed(2)).join(' / ')} at the end; the 1-minute value ranged ${env.loadAvg1Range[0].toFixed(2)}-${env.loadAvg1Range[1].toFixed(2)} at job starts. Above 2 other jobs were competing for the cores: read ratios, not nanoseconds.`,
  ];
  if (env.partial !== undefined) lines.push(`- **Partial run** (${env.partial}): not every case was measured.`);
  return lines.join('\n');
}

/** The headline table: ratio vs Map, x64 plain-load path and strict-atomics path. */
export function resultsTable(rows: ResultRow[], ops: readonly Operation[], sizes: readonly number[]): string {
  const out = [
    '| operation | entries | Map ns/op | flatshare ns/op | **flatshare / Map** | strict ns/op | **strict / Map** |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const op of ops) {
    for (const size of sizes) {
      const map = find(rows, op, size, 'Map', 'plain');
      const fs = find(rows, op, size, 'flatshare', 'plain');
      const strict = find(rows, op, size, 'flatshare-strict', 'strict');
      if (map === undefined && fs === undefined && strict === undefined) continue;
      const rme = (r: ResultRow | undefined): string => (r === undefined ? '' : ` ±${r.rme.toFixed(0)}%`);
      out.push(
        `| ${OP_LABEL[op]} | ${sizeLabel(size)} | ${ns(map?.nsPerOp)}${rme(map)} | ${ns(fs?.nsPerOp)}${rme(fs)} | **${ratio(fs?.ratioVsMap)}** | ${ns(strict?.nsPerOp)}${rme(strict)} | **${ratio(strict?.ratioVsMap)}** |`,
      );
    }
  }
  return out.join('\n');
}

export function bytesTable(bytes: BytesRow[]): string {
  const out = [
    '| entries | presized: buffer bytes | presized: bytes/entry | grown: buffer bytes | grown: bytes/entry | grown: current table only, bytes/entry |',
    '|---:|---:|---:|---:|---:|---:|',
  ];
  if (bytes.length === 0) out.push('| not measured in this run | | | | | |');
  for (const b of bytes) {
    out.push(
      `| ${sizeLabel(b.size)} | ${b.presizedBytes.toLocaleString('en-US')} | ${b.presizedBytesPerEntry.toFixed(1)} | ${b.grownBytes.toLocaleString('en-US')} | ${b.grownBytesPerEntry.toFixed(1)} | ${b.grownTableBytesPerEntry.toFixed(1)} |`,
    );
  }
  return out.join('\n');
}

type Verdict = 'met' | 'not met' | 'not measured';

function verdict(value: number | undefined, limit: number): Verdict {
  if (value === undefined) return 'not measured';
  return value <= limit ? 'met' : 'not met';
}

/** BRIEF section 6 targets this suite measures, with met / not met from this run's numbers. */
export function targetsTable(rows: ResultRow[], bytes: BytesRow[], sizes: readonly number[], headlineRatios: readonly number[] = []): string {
  const out = ['| BRIEF §6 target | measured (this run) | verdict |', '|---|---|---|'];
  const hit = find(rows, GET_HIT_TARGET.op, GET_HIT_TARGET.size, 'flatshare', 'plain');
  const hitStrict = find(rows, GET_HIT_TARGET.op, GET_HIT_TARGET.size, 'flatshare-strict', 'strict');
  // With more than one child, the verdict is the median child's: one child's ratio moves by ±10 % between runs here.
  const judged = headlineRatios.length > 1 ? median([...headlineRatios]) : hit?.ratioVsMap;
  const spread =
    headlineRatios.length > 1
      ? `; ${headlineRatios.length} children on the same keys: median **${ratio(judged)}**, range ${ratio(Math.min(...headlineRatios))}-${ratio(Math.max(...headlineRatios))} (${headlineRatios.map((r) => r.toFixed(3)).join(', ')})`
      : '';
  out.push(
    `| **int32 key get, hit, 100k entries ≤ 1.0 × Map.get** (this issue) | ${ratio(hit?.ratioVsMap)} (${ns(hit?.nsPerOp)} ns vs Map ${ns(find(rows, 'get-hit', 100_000, 'Map', 'plain')?.nsPerOp)} ns)${spread} | **${verdict(judged, GET_HIT_TARGET.maxRatio)}**${headlineRatios.length > 1 ? ' (median child)' : ''} |`,
  );
  out.push(
    `| same, strict-atomics read path (what arm64 runs) | ${ratio(hitStrict?.ratioVsMap)} | ${verdict(hitStrict?.ratioVsMap, GET_HIT_TARGET.maxRatio)} |`,
  );
  for (const size of sizes) {
    const r = find(rows, SET_NEW_TARGET.op, size, 'flatshare', 'plain');
    if (r === undefined) continue;
    out.push(`| set of new int32 keys, resizes included, ≤ 2 × Map.set (${sizeLabel(size)}) | ${ratio(r.ratioVsMap)} | ${verdict(r.ratioVsMap, SET_NEW_TARGET.maxRatio)} |`);
  }
  for (const b of bytes) {
    out.push(
      `| shared bytes per entry, int32 → int32, ≤ ${BYTES_TARGET} (${sizeLabel(b.size)}) | presized ${b.presizedBytesPerEntry.toFixed(1)}, grown ${b.grownBytesPerEntry.toFixed(1)} | presized ${verdict(b.presizedBytesPerEntry, BYTES_TARGET)}, grown ${verdict(b.grownBytesPerEntry, BYTES_TARGET)} |`,
    );
  }
  return out.join('\n');
}

/** Strict atomics vs x64 plain loads: the two read-ordering options side by side, for the read operations. */
export function strictTable(rows: ResultRow[], sizes: readonly number[]): string {
  const out = [
    '| operation | entries | plain loads: flatshare / Map | strict atomics: flatshare / Map | strict ns − plain ns |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const op of ['get-hit', 'get-miss'] as const) {
    for (const size of sizes) {
      const fs = find(rows, op, size, 'flatshare', 'plain');
      const strict = find(rows, op, size, 'flatshare-strict', 'strict');
      if (fs === undefined && strict === undefined) continue;
      const diff = fs !== undefined && strict !== undefined ? (strict.nsPerOp - fs.nsPerOp).toFixed(1) : '–';
      out.push(`| ${OP_LABEL[op]} | ${sizeLabel(size)} | ${ratio(fs?.ratioVsMap)} | ${ratio(strict?.ratioVsMap)} | ${diff} |`);
    }
  }
  return out.join('\n');
}

export interface Report {
  env: Environment;
  rows: ResultRow[];
  bytes: BytesRow[];
  ops: readonly Operation[];
  sizes: readonly number[];
  failures: string[];
  /** Multi-worker jobs (mt-case.ts). */
  mt: MtResults;
  /** Sizes of the multi-worker throughput jobs. */
  mtSizes: readonly number[];
  /** Single-thread string-key cases (string-case.ts). */
  stringRows: StringResultRow[];
  /** Shared bytes per entry, string -> string. */
  stringBytes: StringBytesRow[];
  /**
   * flatshare / Map of the headline case (GET_HIT_TARGET, plain read path) in
   * each of its HEADLINE_CHILDREN child processes, the one in `rows` first.
   */
  headlineRatios: number[];
}

/** The generated part, shared by latest.md and docs/benchmarks.md. */
export function generatedSections(report: Report, headingLevel: number, chartPath: (keyType: KeyType) => string): string {
  const h = '#'.repeat(headingLevel);
  const parts = [
    `${h} Environment`,
    '',
    environmentBlock(report.env),
    '',
    `${h} Results: time per operation, ratio vs Map`,
    '',
    'Ratio = flatshare ns/op ÷ Map ns/op, both measured in the same child process on the same keys. Below 1.00× flatshare is faster. "strict" is flatshare in a process started with `FLATSHARE_STRICT_ATOMICS=1`, against the Map measured in that process.',
    '',
    resultsTable(report.rows, report.ops, report.sizes),
    '',
    `${h} Targets (BRIEF §6)`,
    '',
    [
      targetsTable(report.rows, report.bytes, report.sizes, report.headlineRatios),
      ...stringTargetRows(report.stringRows, report.stringBytes, report.sizes),
      ...mtTargetRows(report.mt, report.mtSizes),
    ].join('\n'),
    '',
    'The multi-worker targets are judged at 100k entries (bold); the other sizes are shown for information. "faster" factors are baseline time per lookup ÷ flatshare time per lookup, both from the same child process.',
    '',
    `${h} Strict atomics vs x64 plain loads`,
    '',
    'The two read-ordering options of the JS seqlock read paths (lib/seqlock.ts): x64 reads the slot words with plain loads and validates with one `Atomics.load`; the strict path (weakly ordered CPUs; forced here by `FLATSHARE_STRICT_ATOMICS=1`) reads every word with `Atomics.load`. Since layout 3, int32 keys with int32 values are read by the WebAssembly probe (every word an atomic load) in both children, so for the rows below the two columns differ by noise only. Each ratio is against the Map of its own process.',
    '',
    strictTable(report.rows, report.sizes),
    '',
    `${h} Shared bytes per entry, int32 → int32`,
    '',
    '`buffer.byteLength / entries` after inserting the entries: "presized" maps were created with `capacity: entries`, "grown" ones with the default capacity (64). byteLength is the committed length of the map\'s WebAssembly memory (`map.byteLength`, whole 64 KiB pages); it includes the ~18 KiB header and writer records, retired table regions kept for reuse, the 1 MiB grow step and the unused tail of the last page. The last column is the current table region alone.',
    '',
    bytesTable(report.bytes),
    '',
    `${h} String keys: time per operation, ratio vs Map`,
    '',
    '16-character ASCII keys (`key:` + 8 hex digits + `:` + 3 hex digits), default hasher (murmur3), x64 read path. Same method as the int32 table: one child per row, flatshare and `Map` in the same process on the same string objects, interleaved rounds. set new, overwrite, delete and get miss use int32 values. The last column is the 1-minute load average when the child started.',
    '',
    stringResultsTable(report.stringRows),
    '',
    `${h} String keys: hashers`,
    '',
    '16-char string key → int32 get hit, one child per hasher, each against the `Map` of its own process (the keys are identical). "ratio ÷ murmur3 ratio" compares the same-process ratios, so it is less exposed to load than the nanoseconds. xxhash32/xxhash64 are xxhash-wasm (async set-up).',
    '',
    hasherTable(report.stringRows),
    '',
    `${h} String keys: strict atomics`,
    '',
    stringStrictTable(report.stringRows),
    '',
    `${h} Shared bytes per entry, string → string`,
    '',
    '16-char ASCII keys and 16-char ASCII values (one byte per char in the arena). Target (BRIEF §6) read literally: 1.5 × key bytes + value bytes + 24. `buffer.byteLength / entries` as for int32; "table only" is the current table region (16-byte slots), "rest" is everything else: arena blocks (a 1-word header plus the payload in a size-class block), the fixed header, retired table regions and the unused part of the last 1 MiB grow step.',
    '',
    stringBytesTable(report.stringBytes),
    '',
    ...mtSections(report.mt, h, chartPath),
  ];
  if (report.failures.length > 0) {
    parts.push('', `${h} Failed cases`, '', ...report.failures.map((f) => `- ${f}`));
  }
  return parts.join('\n');
}

export function latestMarkdown(report: Report): string {
  const chart = (keyType: KeyType): string => `throughput-${keyType}.svg`;
  return `# flatshare benchmarks: latest run\n\nGenerated by \`npm run bench\` (benchmarks/run.ts). See docs/benchmarks.md for how to read it.\n\n${generatedSections(report, 2, chart)}\n`;
}

export const DOCS_BEGIN = '<!-- BEGIN GENERATED by npm run bench (benchmarks/run.ts): edits inside are overwritten -->';
export const DOCS_END = '<!-- END GENERATED -->';

/** Replace the generated block of docs/benchmarks.md, keeping the hand-written text around it. */
export function updateDocs(existing: string, report: Report): string {
  const chart = (keyType: KeyType): string => `../benchmarks/results/throughput-${keyType}.svg`;
  const block = `${DOCS_BEGIN}\n\n${generatedSections(report, 3, chart)}\n\n${DOCS_END}`;
  const begin = existing.indexOf(DOCS_BEGIN);
  const end = existing.indexOf(DOCS_END);
  if (begin < 0 || end < begin) return `${existing.trimEnd()}\n\n## Latest full run\n\n${block}\n`;
  return existing.slice(0, begin) + block + existing.slice(end + DOCS_END.length);
}
