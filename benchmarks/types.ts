/**
 * Types shared by the benchmark orchestrator (run.ts) and the per-case child
 * process (case.ts). The child receives a CaseConfig as a JSON argument and
 * prints one CaseOutput as JSON on its last stdout line.
 */

/** Operations measured (see the dimension list at the top of run.ts). */
export const OPERATIONS = ['get-hit', 'get-miss', 'set-new', 'overwrite', 'delete'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** Which read path the flatshare module chose at load time in this process. */
export type ReadPath = 'plain' | 'strict';

/** Implementations measured. `flatshare-strict` is flatshare in a child started with FLATSHARE_STRICT_ATOMICS=1. */
export type Impl = 'flatshare' | 'flatshare-strict' | 'Map';

/** One child-process job: one operation at one size, flatshare and Map measured back to back. */
export interface CaseConfig {
  kind: 'timing';
  op: Operation;
  /** Entries in the map (for set-new: entries inserted into an empty map per invocation). */
  size: number;
  /** PRNG seed for this case; flatshare and Map (and the strict child) get identical keys. */
  seed: number;
  /** benchmark.js maxTime per implementation, seconds. */
  maxTime: number;
  /** benchmark.js minSamples per implementation. */
  minSamples: number;
  /** Run order inside the child. */
  impls: Array<'flatshare' | 'Map'>;
}

/** The child job that measures shared bytes per entry (no timing). */
export interface BytesConfig {
  kind: 'bytes';
  sizes: number[];
  seed: number;
}

/**
 * Values of the string-key cases (16-char ASCII keys):
 * `int32`; `short`: a 10-20 char ASCII string; `1k`: a 1,024-char ASCII string.
 */
export const STRING_VALUE_KINDS = ['int32', 'short', '1k'] as const;
export type StringValueKind = (typeof STRING_VALUE_KINDS)[number];

/** Hashers the string-key cases can use (`murmur3` is `hashers.default`). xxhash* are async (xxhash-wasm). */
export const HASHER_NAMES = ['murmur3', 'fnv1a', 'xxhash32', 'xxhash64'] as const;
export type HasherName = (typeof HASHER_NAMES)[number];

/** One string-key child job: `op` on 16-char string keys with `values`, hashed by `hasher`. */
export interface StringCaseConfig {
  kind: 'string-timing';
  op: Operation;
  values: StringValueKind;
  hasher: HasherName;
  size: number;
  seed: number;
  maxTime: number;
  minSamples: number;
  impls: Array<'flatshare' | 'Map'>;
}

export interface StringCaseOutput {
  kind: 'string-timing';
  op: Operation;
  values: StringValueKind;
  hasher: HasherName;
  size: number;
  seed: number;
  readPath: ReadPath;
  measurements: Measurement[];
  sink: number;
  wallSeconds: number;
}

export type ChildConfig = CaseConfig | BytesConfig | StringCaseConfig;

/** One benchmark.js measurement. */
export interface Measurement {
  impl: 'flatshare' | 'Map';
  /** Mean time per single operation, nanoseconds (benchmark.js mean / ops per invocation). */
  nsPerOp: number;
  /** benchmark.js relative margin of error of the mean, percent. */
  rme: number;
  /** Samples benchmark.js collected. */
  samples: number;
  /** Operations per benchmark.js invocation. */
  batch: number;
  /** Median sample / batch, nanoseconds (less sensitive to load bursts than the mean). */
  medianNsPerOp: number;
  /** Mean ns/op of each interleaved round, in round order. */
  roundNsPerOp: number[];
}

export interface CaseOutput {
  kind: 'timing';
  op: Operation;
  size: number;
  seed: number;
  readPath: ReadPath;
  measurements: Measurement[];
  /** Accumulated results, printed so V8 cannot treat the measured loops as dead code. */
  sink: number;
  /** Seconds the child spent (data generation, smoke check and timing). */
  wallSeconds: number;
}

/** Shared bytes per entry, int32 -> int32, after inserting `size` entries. */
export interface BytesRow {
  size: number;
  /** Map created with `capacity: size`. */
  presizedBytes: number;
  presizedBytesPerEntry: number;
  /** Map created with the default capacity, grown by inserts. */
  grownBytes: number;
  grownBytesPerEntry: number;
  /** Bytes of the current table region alone (slots + table header) per entry, grown map. */
  grownTableBytesPerEntry: number;
}

/** Shared bytes per entry, string -> string (16-char keys, 10-20 char values), after inserting `size` entries. */
export interface StringBytesRow {
  size: number;
  /** Mean encoded key bytes per entry (one byte per char for ASCII: 16). */
  keyBytes: number;
  /** Mean encoded value bytes per entry. */
  valueBytes: number;
  /** BRIEF target for these entries: 1.5 x keyBytes + valueBytes + 24. */
  targetBytesPerEntry: number;
  presizedBytes: number;
  presizedBytesPerEntry: number;
  grownBytes: number;
  grownBytesPerEntry: number;
  /** Current table region alone (slots + table header) per entry, grown map. */
  grownTableBytesPerEntry: number;
  /** (grown bytes - current table bytes) / entries: the arena blocks plus the fixed header, retired table regions and the unused rest of the last grow step. */
  grownOutsideTableBytesPerEntry: number;
}

export interface BytesOutput {
  kind: 'bytes';
  rows: BytesRow[];
  stringRows: StringBytesRow[];
}

export type ChildOutput = CaseOutput | BytesOutput | StringCaseOutput;
