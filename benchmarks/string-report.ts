/**
 * The string-key part of the result files: rows of latest.json, the markdown
 * tables and the BRIEF §6 verdict rows for string keys (report.ts puts them
 * into latest.md and docs/benchmarks.md).
 */
import type { HasherName, Measurement, Operation, ReadPath, StringBytesRow, StringCaseOutput, StringValueKind } from './types.js';

/** One row of latest.json for a string-key timing result. */
export interface StringResultRow {
  case: Operation;
  keys: 'string16';
  values: StringValueKind;
  hasher: HasherName;
  impl: 'flatshare' | 'flatshare-strict' | 'Map';
  size: number;
  nsPerOp: number;
  rme: number;
  samples: number;
  /** nsPerOp / the Map's nsPerOp measured in the same child process (1 for Map rows). */
  ratioVsMap: number;
  readPath: ReadPath;
  batch: number;
  medianNsPerOp: number;
  roundNsPerOp: number[];
  seed: number;
  /** 1-minute load average when the child started. */
  loadAvg1: number;
}

/** BRIEF section 6 string targets. */
export const STRING_TARGETS = {
  getHitInt: 1.5,
  getHitShort: 2.5,
  setNew: 3.0,
  /** Bytes per entry target: BYTES_KEY_FACTOR x key bytes + value bytes + BYTES_OVERHEAD. */
  bytesKeyFactor: 1.5,
  bytesOverhead: 24,
} as const;
export const STRING_HEADLINE_SIZE = 100_000;

export function stringRowsOf(output: StringCaseOutput, loadAvg1: number): StringResultRow[] {
  const map = output.measurements.find((m) => m.impl === 'Map');
  return output.measurements.map((m: Measurement) => ({
    case: output.op,
    keys: 'string16',
    values: output.values,
    hasher: output.hasher,
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
    loadAvg1,
  }));
}

function sizeLabel(size: number): string {
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

const VALUE_LABEL: Record<StringValueKind, string> = {
  int32: 'int32',
  short: 'short string (10-20 chars)',
  '1k': '1 KiB string',
};

const OP_LABEL: Record<Operation, string> = {
  'get-hit': 'get, hit',
  'get-miss': 'get, miss',
  'set-new': 'set, new key (from empty, resizes included)',
  overwrite: 'set, overwrite',
  delete: 'delete (present key)',
};

interface Find {
  op: Operation;
  values: StringValueKind;
  size: number;
  impl: StringResultRow['impl'];
  hasher?: HasherName;
  readPath?: ReadPath;
}

function find(rows: StringResultRow[], f: Find): StringResultRow | undefined {
  const hasher = f.hasher ?? 'murmur3';
  const readPath = f.readPath ?? (f.impl === 'flatshare-strict' ? 'strict' : 'plain');
  return rows.find((r) => r.case === f.op && r.values === f.values && r.size === f.size && r.impl === f.impl && r.hasher === hasher && r.readPath === readPath);
}

const rme = (r: StringResultRow | undefined): string => (r === undefined ? '' : ` ±${r.rme.toFixed(0)}%`);

/** The main table: every (operation, values, size) with the default hasher on the x64 read path. */
export function stringResultsTable(rows: StringResultRow[]): string {
  const out = [
    '| operation | value | entries | Map ns/op | flatshare ns/op | **flatshare / Map** | load avg (1 min) |',
    '|---|---|---:|---:|---:|---:|---:|',
  ];
  const cases = [...new Set(rows.filter((r) => r.hasher === 'murmur3' && r.readPath === 'plain').map((r) => `${r.case}|${r.values}`))];
  for (const c of cases) {
    const [op, values] = c.split('|') as [Operation, StringValueKind];
    const sizes = [...new Set(rows.filter((r) => r.case === op && r.values === values).map((r) => r.size))].sort((a, b) => a - b);
    for (const size of sizes) {
      const map = find(rows, { op, values, size, impl: 'Map' });
      const fs = find(rows, { op, values, size, impl: 'flatshare' });
      if (map === undefined && fs === undefined) continue;
      out.push(
        `| ${OP_LABEL[op]} | ${VALUE_LABEL[values]} | ${sizeLabel(size)} | ${ns(map?.nsPerOp)}${rme(map)} | ${ns(fs?.nsPerOp)}${rme(fs)} | **${ratio(fs?.ratioVsMap)}** | ${fs === undefined ? '–' : fs.loadAvg1.toFixed(1)} |`,
      );
    }
  }
  return out.join('\n');
}

/** Hashers side by side on the 16-char key -> int32 get hit (each its own child, each against its own Map). */
export function hasherTable(rows: StringResultRow[]): string {
  const out = [
    '| hasher | entries | Map ns/op | flatshare ns/op | **flatshare / Map** | ratio ÷ murmur3 ratio | load avg (1 min) |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  const hits = rows.filter((r) => r.case === 'get-hit' && r.values === 'int32' && r.impl === 'flatshare' && r.readPath === 'plain');
  const sizes = [...new Set(hits.filter((r) => r.hasher !== 'murmur3').map((r) => r.size))].sort((a, b) => a - b);
  for (const size of sizes) {
    const base = find(rows, { op: 'get-hit', values: 'int32', size, impl: 'flatshare' });
    for (const r of hits.filter((h) => h.size === size)) {
      const map = find(rows, { op: 'get-hit', values: 'int32', size, impl: 'Map', hasher: r.hasher });
      const rel = base === undefined ? undefined : r.ratioVsMap / base.ratioVsMap;
      out.push(`| ${r.hasher}${r.hasher === 'murmur3' ? ' (default)' : ''} | ${sizeLabel(size)} | ${ns(map?.nsPerOp)}${rme(map)} | ${ns(r.nsPerOp)}${rme(r)} | **${ratio(r.ratioVsMap)}** | ${ratio(rel)} | ${r.loadAvg1.toFixed(1)} |`);
    }
  }
  if (sizes.length === 0) out.push('| not measured in this run | | | | | | |');
  return out.join('\n');
}

/** Strict-atomics rows (string keys), beside the plain ones. */
export function stringStrictTable(rows: StringResultRow[]): string {
  const out = ['| operation | value | entries | plain loads: flatshare / Map | strict atomics: flatshare / Map |', '|---|---|---:|---:|---:|'];
  for (const r of rows.filter((x) => x.impl === 'flatshare-strict')) {
    const plain = find(rows, { op: r.case, values: r.values, size: r.size, impl: 'flatshare', hasher: r.hasher });
    out.push(`| ${OP_LABEL[r.case]} | ${VALUE_LABEL[r.values]} | ${sizeLabel(r.size)} | ${ratio(plain?.ratioVsMap)} | ${ratio(r.ratioVsMap)} |`);
  }
  return out.join('\n');
}

export function stringBytesTable(bytes: StringBytesRow[]): string {
  const out = [
    '| entries | key + value bytes | target B/entry | presized: buffer bytes | presized: B/entry | grown: buffer bytes | grown: B/entry | grown: table only | grown: rest (arena, header, retired tables) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  if (bytes.length === 0) out.push('| not measured in this run | | | | | | | | |');
  for (const b of bytes) {
    out.push(
      `| ${sizeLabel(b.size)} | ${b.keyBytes.toFixed(0)} + ${b.valueBytes.toFixed(0)} | ${b.targetBytesPerEntry.toFixed(0)} | ${b.presizedBytes.toLocaleString('en-US')} | ${b.presizedBytesPerEntry.toFixed(1)} | ${b.grownBytes.toLocaleString('en-US')} | ${b.grownBytesPerEntry.toFixed(1)} | ${b.grownTableBytesPerEntry.toFixed(1)} | ${b.grownOutsideTableBytesPerEntry.toFixed(1)} |`,
    );
  }
  return out.join('\n');
}

type Verdict = 'met' | 'not met' | 'not measured';
function verdict(value: number | undefined, limit: number): Verdict {
  if (value === undefined || !Number.isFinite(value)) return 'not measured';
  return value <= limit ? 'met' : 'not met';
}

/** BRIEF §6 verdict rows for string keys; the headline size (100k) in bold, the others for information. */
export function stringTargetRows(rows: StringResultRow[], bytes: StringBytesRow[], sizes: readonly number[]): string[] {
  const out: string[] = [];
  const ordered = [STRING_HEADLINE_SIZE, ...sizes.filter((s) => s !== STRING_HEADLINE_SIZE)];
  const ratioRow = (text: string, op: Operation, values: StringValueKind, limit: number, bold: (size: number) => boolean): void => {
    for (const size of ordered) {
      const fs = find(rows, { op, values, size, impl: 'flatshare' });
      const map = find(rows, { op, values, size, impl: 'Map' });
      if (fs === undefined && size !== STRING_HEADLINE_SIZE) continue;
      const b = bold(size);
      const measured = fs === undefined ? 'not measured' : `${ratio(fs.ratioVsMap)} (${ns(fs.nsPerOp)} ns vs Map ${ns(map?.nsPerOp)} ns; load ${fs.loadAvg1.toFixed(1)})`;
      const v = verdict(fs?.ratioVsMap, limit);
      out.push(`| ${b ? '**' : ''}${text} (${sizeLabel(size)})${b ? '**' : ''} | ${measured} | ${b ? `**${v}**` : v} |`);
    }
  };
  const headline = (size: number): boolean => size === STRING_HEADLINE_SIZE;
  ratioRow(`16-char string key → int32 get hit ≤ ${STRING_TARGETS.getHitInt} × Map.get`, 'get-hit', 'int32', STRING_TARGETS.getHitInt, headline);
  ratioRow(`string → short string get hit ≤ ${STRING_TARGETS.getHitShort} × Map.get`, 'get-hit', 'short', STRING_TARGETS.getHitShort, headline);
  ratioRow(`set of new string keys, resizes included, ≤ ${STRING_TARGETS.setNew} × Map.set`, 'set-new', 'int32', STRING_TARGETS.setNew, headline);
  for (const b of bytes) {
    const text = `shared bytes per entry, string → string ≤ ${STRING_TARGETS.bytesKeyFactor} × key bytes + value bytes + ${STRING_TARGETS.bytesOverhead} (= ${b.targetBytesPerEntry.toFixed(0)} for ${b.keyBytes.toFixed(0)} + ${b.valueBytes.toFixed(0)} bytes) (${sizeLabel(b.size)})`;
    out.push(
      `| ${text} | presized ${b.presizedBytesPerEntry.toFixed(1)}, grown ${b.grownBytesPerEntry.toFixed(1)} | presized ${verdict(b.presizedBytesPerEntry, b.targetBytesPerEntry)}, grown ${verdict(b.grownBytesPerEntry, b.targetBytesPerEntry)} |`,
    );
  }
  if (bytes.length === 0) out.push('| shared bytes per entry, string → string | not measured | not measured |');
  return out;
}
