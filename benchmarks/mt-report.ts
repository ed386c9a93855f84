/**
 * Multi-worker part of the report: tables for latest.md and docs/benchmarks.md,
 * the BRIEF §6 verdicts they cover, the rows of latest.json, and a hand-written
 * SVG bar chart of throughput per workload and worker count.
 */
import type { KeyType } from './keys.js';
import {
  MT_IMPLS,
  WORKER_COUNTS,
  mixesOf,
  type CellResult,
  type MemoryOutput,
  type MigrationOutput,
  type Mix,
  type MtImpl,
  type MtOutput,
  type Percentiles,
  type ThroughputOutput,
  type VisibilityOutput,
} from './mt-types.js';

export interface MtResults {
  throughput: ThroughputOutput[];
  migration: MigrationOutput[];
  visibility: VisibilityOutput[];
  memory: MemoryOutput[];
}

export function emptyMtResults(): MtResults {
  return { throughput: [], migration: [], visibility: [], memory: [] };
}

export function addMtOutput(results: MtResults, output: MtOutput): void {
  switch (output.kind) {
    case 'mt-throughput':
      results.throughput.push(output);
      break;
    case 'mt-migration':
      results.migration.push(output);
      break;
    case 'mt-visibility':
      results.visibility.push(output);
      break;
    case 'mt-memory':
      results.memory.push(output);
      break;
  }
}

/** The size the BRIEF §6 verdicts are taken at (the other sizes are shown for information). */
export const HEADLINE_SIZE = 100_000;
export const TARGETS = {
  readScaling2: 1.8,
  mixedScaling2: 1.5,
  brokerFactor: 100,
  lmdbFactor: 7,
  copyRatio: 2,
  visibilityUs: 2,
  migrationP999Us: 50,
} as const;

const IMPL_LABEL: Record<MtImpl, string> = {
  flatshare: 'flatshare (one shared map)',
  'map-copy': 'Map copy in every worker',
  'broker-1': 'broker: main-thread Map, 1 key / message',
  'broker-64': `broker: main-thread Map, 64 keys / message`,
  lmdb: 'lmdb-js get (default: no cache)',
  'lmdb-cache': 'lmdb-js get, cache: true',
};
const MIX_LABEL: Record<Mix, string> = {
  r100: '100 % reads',
  r90: '90 % reads / 10 % overwrites',
  r50: '50 % reads / 50 % overwrites',
  rw: 'reads, while 1 more worker overwrites',
};

function sizeLabel(size: number): string {
  if (size >= 1_000_000 && size % 1_000_000 === 0) return `${size / 1_000_000}M`;
  if (size >= 1000 && size % 1000 === 0) return `${size / 1000}k`;
  return String(size);
}

function fmt(value: number | undefined, digits = 2): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  if (Math.abs(value) >= 100) return value.toFixed(0);
  return value.toFixed(digits);
}

function x(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '–' : `${fmt(value)}×`;
}

function cellOf(t: ThroughputOutput | undefined, impl: MtImpl, mix: Mix, workers: number): CellResult | undefined {
  return t?.cells.find((c) => c.impl === impl && c.mix === mix && c.workers === workers);
}

function throughputFor(results: MtResults, keyType: KeyType, size: number): ThroughputOutput | undefined {
  return results.throughput.find((t) => t.keyType === keyType && t.size === size);
}

// ---------------------------------------------------------------- tables

export function throughputTable(t: ThroughputOutput): string {
  const counts = WORKER_COUNTS.filter((w) => t.cells.some((c) => c.workers === w));
  const head = [
    `| workload | ${counts.map((w) => `${w} worker${w === 1 ? '' : 's'}: Mops/s (ns/op)`).join(' | ')} | ${counts.slice(1).map((w) => `${w}w / 1w`).join(' | ')} |`,
    `|---|${counts.map(() => '---:').join('|')}|${counts.slice(1).map(() => '---:').join('|')}|`,
  ];
  const rows: string[] = [];
  for (const impl of MT_IMPLS) {
    for (const mix of mixesOf(impl)) {
      const cells = counts.map((w) => cellOf(t, impl, mix, w));
      if (cells.every((c) => c === undefined)) continue;
      const one = cells[0]?.aggregateMops;
      const label = impl === 'flatshare' ? `flatshare, ${MIX_LABEL[mix]}` : IMPL_LABEL[impl];
      rows.push(
        `| ${label} | ${cells.map((c) => (c === undefined ? '–' : `${fmt(c.aggregateMops, 3)} (${fmt(c.nsPerOp, 1)})`)).join(' | ')} | ${cells
          .slice(1)
          .map((c) => x(c === undefined || one === undefined ? undefined : c.aggregateMops / one))
          .join(' | ')} |`,
      );
    }
  }
  return [...head, ...rows].join('\n');
}

/** Per-lookup time of each implementation against flatshare, 100 % reads, same worker count, same job. */
export function baselineTable(t: ThroughputOutput): string {
  const out = ['| baseline | workers | baseline ns / lookup | flatshare ns / lookup | **baseline ÷ flatshare** |', '|---|---:|---:|---:|---:|'];
  for (const impl of MT_IMPLS) {
    if (impl === 'flatshare') continue;
    for (const w of [1, 2]) {
      const b = cellOf(t, impl, 'r100', w);
      const f = cellOf(t, 'flatshare', 'r100', w);
      if (b === undefined || f === undefined) continue;
      out.push(`| ${IMPL_LABEL[impl]} | ${w} | ${fmt(b.nsPerOp, 1)} | ${fmt(f.nsPerOp, 1)} | **${x(b.nsPerOp / f.nsPerOp)}** |`);
    }
  }
  return out.join('\n');
}

function pct(p: Percentiles | undefined): string {
  if (p === undefined) return '| – | – | – | – | – |';
  return `| ${fmt(p.p50)} | ${fmt(p.p99)} | ${fmt(p.p999)} | ${fmt(p.max, 1)} | ${p.count.toLocaleString('en-US')} |`;
}

export function migrationTable(m: MigrationOutput): string {
  if (m.unsupported !== undefined) return `${m.keyType} keys: ${m.unsupported}`;
  return [
    `${sizeLabel(m.size)} ${m.keyType} entries; the writer inserted ${m.inserted.toLocaleString('en-US')} new keys; the table grew from ${m.capacityBefore.toLocaleString('en-US')} to ${m.capacityAfter.toLocaleString('en-US')} lanes, and the set() that migrated it took ${fmt(m.migrationMs, 1)} ms in the writer.`,
    '',
    '| reader phase | p50 µs | p99 µs | p99.9 µs | max µs | gets |',
    '|---|---:|---:|---:|---:|---:|',
    `| steady (no writer) ${pct(m.steady)}`,
    `| writer inserting, far from the resize ${pct(m.inserting)}`,
    `| **last ${'2,000'} inserts + migration** ${pct(m.migrating)}`,
    `| after the migration ${pct(m.after)}`,
  ].join('\n');
}

const VIS_LABEL: Record<string, string> = {
  'flatshare-spin': 'flatshare: `set` in worker A, `get` spinning in worker B',
  'postMessage-event': 'broadcast: `postMessage` to worker B, which applies it to its Map copy (B idle in its event loop)',
  'postMessage-poll': 'broadcast: same, B polls `receiveMessageOnPort` in a loop (best case)',
};

export function visibilityTable(v: VisibilityOutput): string {
  if (v.unsupported !== undefined) return `${v.keyType} keys: ${v.unsupported}`;
  const out = ['| method | p50 µs | p99 µs | p99.9 µs | max µs | hand-offs |', '|---|---:|---:|---:|---:|---:|'];
  for (const r of v.rows) out.push(`| ${VIS_LABEL[r.method] ?? r.method} ${pct(r.latency)}`);
  return out.join('\n');
}

export function memoryTable(m: MemoryOutput, workers: number): string {
  if (m.unsupported !== undefined) return `${m.keyType} keys: ${m.unsupported}`;
  const out = [
    `| entries | flatshare shared B/entry (grown) | presized | flatshare JS heap B/entry per thread | Map heap B/entry per worker | Map copies in ${workers} workers, B/entry |`,
    '|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of m.rows) {
    out.push(
      `| ${sizeLabel(r.size)} | ${fmt(r.sharedBytesPerEntry, 1)} | ${fmt(r.presizedSharedBytesPerEntry, 1)} | ${fmt(r.flatshareHeapBytesPerEntry, 1)} | ${fmt(r.mapHeapBytesPerEntry, 1)} | ${fmt(r.mapHeapBytesPerEntry * workers, 1)} |`,
    );
  }
  return out.join('\n');
}

// ---------------------------------------------------------------- targets

type Verdict = 'met' | 'not met' | 'not measured';
function atLeast(value: number | undefined, limit: number): Verdict {
  if (value === undefined || !Number.isFinite(value)) return 'not measured';
  return value >= limit ? 'met' : 'not met';
}
function atMost(value: number | undefined, limit: number): Verdict {
  if (value === undefined || !Number.isFinite(value)) return 'not measured';
  return value <= limit ? 'met' : 'not met';
}

/** Verdict rows for the BRIEF §6 targets the multi-worker jobs cover (int32 keys). */
export function mtTargetRows(results: MtResults, sizes: readonly number[]): string[] {
  const rows: string[] = [];
  const ordered = [HEADLINE_SIZE, ...sizes.filter((s) => s !== HEADLINE_SIZE)];
  const line = (size: number, text: string, measured: string, verdict: Verdict): void => {
    const headline = size === HEADLINE_SIZE;
    rows.push(`| ${headline ? '**' : ''}${text} (${sizeLabel(size)}, int32)${headline ? '**' : ''} | ${measured} | ${headline ? `**${verdict}**` : verdict} |`);
  };
  const scaling = (t: ThroughputOutput | undefined, mix: Mix): number | undefined => {
    const one = cellOf(t, 'flatshare', mix, 1);
    const two = cellOf(t, 'flatshare', mix, 2);
    return one === undefined || two === undefined ? undefined : two.aggregateMops / one.aggregateMops;
  };
  const factor = (t: ThroughputOutput | undefined, impl: MtImpl, workers: number): number | undefined => {
    const b = cellOf(t, impl, 'r100', workers);
    const f = cellOf(t, 'flatshare', 'r100', workers);
    return b === undefined || f === undefined ? undefined : b.nsPerOp / f.nsPerOp;
  };
  const specs: Array<{ text: string; measure: (t: ThroughputOutput | undefined) => [number | undefined, string]; verdict: (v: number | undefined) => Verdict }> = [
    {
      text: `reads from 2 workers: aggregate ≥ ${TARGETS.readScaling2} × one worker`,
      measure: (t) => [scaling(t, 'r100'), `${x(scaling(t, 'r100'))} (${fmt(cellOf(t, 'flatshare', 'r100', 2)?.aggregateMops, 2)} vs ${fmt(cellOf(t, 'flatshare', 'r100', 1)?.aggregateMops, 2)} Mops/s)`],
      verdict: (v) => atLeast(v, TARGETS.readScaling2),
    },
    {
      text: `90 % reads / 10 % writes from 2 workers: aggregate ≥ ${TARGETS.mixedScaling2} × one worker`,
      measure: (t) => [scaling(t, 'r90'), `${x(scaling(t, 'r90'))} (${fmt(cellOf(t, 'flatshare', 'r90', 2)?.aggregateMops, 2)} vs ${fmt(cellOf(t, 'flatshare', 'r90', 1)?.aggregateMops, 2)} Mops/s)`],
      verdict: (v) => atLeast(v, TARGETS.mixedScaling2),
    },
    {
      text: `lookup from a worker ≥ ${TARGETS.brokerFactor} × faster than a main-thread Map behind postMessage (1 key / message)`,
      measure: (t) => [factor(t, 'broker-1', 1), `${x(factor(t, 'broker-1', 1))} faster (${fmt(cellOf(t, 'broker-1', 'r100', 1)?.nsPerOp, 0)} ns vs ${fmt(cellOf(t, 'flatshare', 'r100', 1)?.nsPerOp, 1)} ns); 64 keys / message: ${x(factor(t, 'broker-64', 1))}`],
      verdict: (v) => atLeast(v, TARGETS.brokerFactor),
    },
    {
      text: `lookup ≥ ${TARGETS.lmdbFactor} × faster than lmdb-js get (default options, 1 worker)`,
      measure: (t) => [factor(t, 'lmdb', 1), `${x(factor(t, 'lmdb', 1))} faster (${fmt(cellOf(t, 'lmdb', 'r100', 1)?.nsPerOp, 0)} ns vs ${fmt(cellOf(t, 'flatshare', 'r100', 1)?.nsPerOp, 1)} ns); with cache: true: ${x(factor(t, 'lmdb-cache', 1))}`],
      verdict: (v) => atLeast(v, TARGETS.lmdbFactor),
    },
    {
      text: `get from each of 2 workers ≤ ${TARGETS.copyRatio} × a Map copy in each worker`,
      measure: (t) => {
        const f = factor(t, 'map-copy', 2);
        const ratio = f === undefined ? undefined : 1 / f;
        return [ratio, `${x(ratio)} (${fmt(cellOf(t, 'flatshare', 'r100', 2)?.nsPerOp, 1)} ns vs ${fmt(cellOf(t, 'map-copy', 'r100', 2)?.nsPerOp, 1)} ns)`];
      },
      verdict: (v) => atMost(v, TARGETS.copyRatio),
    },
  ];
  for (const spec of specs) {
    for (const size of ordered) {
      const t = throughputFor(results, 'int32', size);
      if (t === undefined && size !== HEADLINE_SIZE) continue;
      const [value, measured] = spec.measure(t);
      line(size, spec.text, t === undefined ? 'not measured' : measured, spec.verdict(value));
    }
  }
  const vis = results.visibility.find((v) => v.keyType === 'int32');
  const spin = vis?.rows.find((r) => r.method === 'flatshare-spin')?.latency;
  const event = vis?.rows.find((r) => r.method === 'postMessage-event')?.latency;
  rows.push(
    `| **a set in one worker seen by a spinning reader in another ≤ ${TARGETS.visibilityUs} µs (p50; broadcast ≥ 40 µs)** | p50 ${fmt(spin?.p50)} µs, p99 ${fmt(spin?.p99)} µs; broadcast via postMessage: p50 ${fmt(event?.p50)} µs | **${atMost(spin?.p50, TARGETS.visibilityUs)}** |`,
  );
  const mig = results.migration.find((m) => m.keyType === 'int32');
  rows.push(
    `| **reader latency while a ${mig === undefined ? '1M' : sizeLabel(mig.size)}-entry table migrates: p99.9 ≤ ${TARGETS.migrationP999Us} µs** | p50 ${fmt(mig?.migrating?.p50)} µs, p99 ${fmt(mig?.migrating?.p99)} µs, p99.9 ${fmt(mig?.migrating?.p999)} µs, max ${fmt(mig?.migrating?.max, 0)} µs | **${atMost(mig?.migrating?.p999, TARGETS.migrationP999Us)}**${mig !== undefined && mig.size !== 1_000_000 ? ' (not at 1M: --quick)' : ''} |`,
  );
  for (const t of results.throughput) if (t.unsupported !== undefined && t.size === HEADLINE_SIZE) rows.push(`| multi-worker cases with ${t.keyType} keys | ${t.unsupported} | not measured |`);
  return rows;
}

// ---------------------------------------------------------------- sections

export function mtSections(results: MtResults, h: string, chartPath: (keyType: KeyType) => string): string[] {
  const parts: string[] = [];
  const keyTypes = [...new Set(results.throughput.map((t) => t.keyType))];
  parts.push(
    `${h} Multi-worker throughput`,
    '',
    'Aggregate throughput of the reader workers (Σ over workers of ops ÷ that worker\'s timed window), in millions of operations per second, and in brackets the mean time per operation as one worker sees it. 4 workers oversubscribe the 2 cores. The mix `rw` adds one writer worker (not counted) to the readers. "2w / 1w" is the scaling of the aggregate. Each cell is the median of the interleaved rounds.',
    '',
  );
  for (const keyType of keyTypes) {
    const ts = results.throughput.filter((t) => t.keyType === keyType).sort((a, b) => a.size - b.size);
    const unsupported = ts.find((t) => t.unsupported !== undefined);
    if (unsupported !== undefined && ts.every((t) => t.unsupported !== undefined)) {
      parts.push(`**${keyType} keys**: ${unsupported.unsupported}. These cases run automatically once flatshare implements ${keyType} keys.`, '');
      continue;
    }
    parts.push(`![throughput per workload and worker count, ${keyType} keys](${chartPath(keyType)})`, '');
    for (const t of ts) {
      parts.push(`**${keyType} keys, ${sizeLabel(t.size)} entries**`, '');
      parts.push(t.unsupported !== undefined ? t.unsupported : throughputTable(t), '');
    }
  }
  parts.push(
    `${h} Baselines: time per lookup, 100 % reads`,
    '',
    'Each baseline against flatshare with the same number of reader workers, measured in the same child process, interleaved. Above 1× flatshare is faster.',
    '',
  );
  for (const t of results.throughput.filter((t) => t.unsupported === undefined).sort((a, b) => a.size - b.size)) {
    parts.push(`**${t.keyType} keys, ${sizeLabel(t.size)} entries**`, '', baselineTable(t), '');
  }
  parts.push(`${h} Reader latency while the table migrates`, '');
  parts.push(
    'One reader worker times every `get` of a present key (`performance.now()` once per get: the figure includes that call and the loop, ~0.1 µs) while a writer worker inserts new keys until the table resizes. Latencies are filed under the phase the writer announces through a shared word.',
    '',
  );
  for (const m of results.migration) parts.push(migrationTable(m), '');
  if (results.migration.length === 0) parts.push('not measured in this run', '');
  parts.push(`${h} Visibility: a set in one worker, seen in another`, '');
  parts.push(
    'Time from just before the writer\'s `set` (or `postMessage`) until the reader sees the new value, from `process.hrtime.bigint()` stamps (one clock for all threads of a process). The writer waits for the reader\'s acknowledgement and a random 2-20 µs pause between hand-offs.',
    '',
  );
  for (const v of results.visibility) parts.push(visibilityTable(v), '');
  if (results.visibility.length === 0) parts.push('not measured in this run', '');
  parts.push(`${h} Memory: one shared copy vs a Map per worker`, '');
  parts.push(
    'flatshare: `buffer.byteLength ÷ entries` (one copy, whatever the number of threads; the memory\'s committed length in whole 64 KiB pages, see the bytes table above). Map: `process.memoryUsage().heapUsed` growth after `gc()` while building a Map of the same entries, which every worker holding a copy pays. The JS heap an attached flatshare costs a thread is measured the same way (at 1k entries it is mostly the fixed size of the map object and gc noise).',
    '',
  );
  for (const m of results.memory) parts.push(memoryTable(m, 2), '');
  if (results.memory.length === 0) parts.push('not measured in this run', '');
  return parts;
}

/** Rows for latest.json. */
export function mtJsonRows(results: MtResults): unknown[] {
  const rows: unknown[] = [];
  for (const t of results.throughput) {
    if (t.unsupported !== undefined) rows.push({ case: 'mt-throughput', keyType: t.keyType, size: t.size, unsupported: t.unsupported });
    for (const c of t.cells) {
      rows.push({ case: 'mt-throughput', keyType: t.keyType, size: t.size, impl: c.impl, mix: c.mix, workers: c.workers, aggregateMops: c.aggregateMops, nsPerOp: c.nsPerOp, rounds: c.rounds, seed: t.seed });
    }
  }
  for (const m of results.migration) rows.push({ case: 'mt-migration', ...m });
  for (const v of results.visibility) rows.push({ case: 'mt-visibility', ...v });
  for (const m of results.memory) rows.push({ case: 'mt-memory', ...m });
  return rows;
}

// ---------------------------------------------------------------- SVG chart

const COLORS = ['#4c78a8', '#f58518', '#54a24b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const SHORT: Record<string, string> = {
  'flatshare/r100': 'flatshare 100% r',
  'flatshare/r90': 'flatshare 90% r',
  'flatshare/r50': 'flatshare 50% r',
  'flatshare/rw': 'flatshare r + writer',
  'map-copy/r100': 'Map copy/worker',
  'broker-1/r100': 'broker 1 key',
  'broker-64/r100': 'broker 64 keys',
  'lmdb/r100': 'lmdb',
  'lmdb-cache/r100': 'lmdb cache',
};

/**
 * Grouped bar chart, one panel per size: a group per workload, a bar per
 * worker count, aggregate Mops/s on a log scale (the broker is ~1000× below flatshare).
 */
export function throughputSvg(results: MtResults, keyType: KeyType): string | undefined {
  const ts = results.throughput.filter((t) => t.keyType === keyType && t.unsupported === undefined && t.cells.length > 0).sort((a, b) => a.size - b.size);
  if (ts.length === 0) return undefined;
  const groups: Array<[MtImpl, Mix]> = [];
  for (const impl of MT_IMPLS) for (const mix of mixesOf(impl)) if (ts.some((t) => t.cells.some((c) => c.impl === impl && c.mix === mix))) groups.push([impl, mix]);
  const counts = WORKER_COUNTS.filter((w) => ts.some((t) => t.cells.some((c) => c.workers === w)));
  const all = ts.flatMap((t) => t.cells.map((c) => c.aggregateMops)).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...all)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all)));
  const barW = 12;
  const groupW = counts.length * barW + 14;
  const left = 60;
  const panelH = 220;
  const labelH = 90;
  const top = 50;
  const width = Math.max(700, left + groups.length * groupW + 20);
  const height = top + ts.length * (panelH + labelH) + 10;
  const yOf = (v: number, y0: number): number => y0 + panelH - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * panelH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="18" font-size="14" font-weight="bold">flatshare vs baselines: aggregate throughput, ${esc(keyType)} keys (Mops/s, log scale)</text>`,
  ];
  counts.forEach((w, i) => {
    const lx = left + i * 90;
    out.push(`<rect x="${lx}" y="28" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${lx + 14}" y="37">${w} worker${w === 1 ? '' : 's'}</text>`);
  });
  ts.forEach((t, pi) => {
    const y0 = top + pi * (panelH + labelH);
    out.push(`<text x="${left}" y="${y0 + 10}" font-weight="bold">${esc(sizeLabel(t.size))} entries</text>`);
    for (let e = Math.log10(lo); e <= Math.log10(hi); e++) {
      const y = yOf(10 ** e, y0).toFixed(1);
      out.push(`<line x1="${left}" x2="${width - 20}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${left - 6}" y="${y}" text-anchor="end" dy="3">${esc(fmt(10 ** e, 3))}</text>`);
    }
    groups.forEach(([impl, mix], gi) => {
      const gx = left + gi * groupW + 7;
      counts.forEach((w, ci) => {
        const c = cellOf(t, impl, mix, w);
        if (c === undefined || !(c.aggregateMops > 0)) return;
        const y = yOf(c.aggregateMops, y0);
        out.push(
          `<rect x="${gx + ci * barW}" y="${y.toFixed(1)}" width="${barW - 2}" height="${(y0 + panelH - y).toFixed(1)}" fill="${COLORS[ci % COLORS.length]}"><title>${esc(`${impl} ${mix} ${w} workers: ${fmt(c.aggregateMops, 3)} Mops/s`)}</title></rect>`,
        );
      });
      const lx = gx + (counts.length * barW) / 2;
      const ly = y0 + panelH + 8;
      out.push(`<text x="${lx}" y="${ly}" transform="rotate(40 ${lx} ${ly})">${esc(SHORT[`${impl}/${mix}`] ?? `${impl} ${mix}`)}</text>`);
    });
    out.push(`<line x1="${left}" x2="${width - 20}" y1="${y0 + panelH}" y2="${y0 + panelH}" stroke="#333"/>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
