/**
 * Kinds of the kill test (spec/stress/kill.test.ts): the test and its workers
 * think in int keys and int values (the kill log stores ints); this codec maps
 * them onto the map's real kinds. In the 'string' kind a key is a string of
 * 1-40 code units (some non-Latin-1) and a value a string whose length varies
 * from 0 to ~600 code units with the value, so writes move values between
 * arena size classes and kills land inside arena allocation and free. In the
 * 'string-int32' kind keys are those strings and values int32: the keys of at
 * most 32 one-byte units take the wasm string put, the others the JS path.
 */
export type KillKind = 'int32' | 'string' | 'string-int32';

/** The map's key and value kinds for a kill kind. */
export function mapKindsOf(kind: KillKind): { keys: 'int32' | 'string'; values: 'int32' | 'string' } {
  return { keys: kind === 'int32' ? 'int32' : 'string', values: kind === 'string' ? 'string' : 'int32' };
}

const PAD_UNITS = ['x', 'é', '€', '𝄞'];
const VALUE_SEPARATOR = ':';
const MAX_PAD = 150;

export function keyOf(kind: KillKind, k: number): number | string {
  if (kind === 'int32') return k;
  return `k${k}-` + (PAD_UNITS[k % PAD_UNITS.length] as string).repeat(k % 37);
}

export function valueOf(kind: KillKind, v: number): number | string {
  if (kind !== 'string') return v;
  return `${v}${VALUE_SEPARATOR}` + (PAD_UNITS[v % PAD_UNITS.length] as string).repeat(v % MAX_PAD);
}

/** The int a stored value encodes; NaN when it is not a value this codec made. */
export function decodeValue(kind: KillKind, x: unknown): number {
  if (kind !== 'string') return typeof x === 'number' ? x : Number.NaN;
  if (typeof x !== 'string') return Number.NaN;
  const v = Number.parseInt(x, 10);
  return x === valueOf(kind, v) ? v : Number.NaN;
}

/** The int key of a key the codec made, or NaN. */
export function decodeKey(kind: KillKind, x: unknown): number {
  if (kind === 'int32') return typeof x === 'number' ? x : Number.NaN;
  if (typeof x !== 'string' || !x.startsWith('k')) return Number.NaN;
  const k = Number.parseInt(x.slice(1), 10);
  return x === keyOf(kind, k) ? k : Number.NaN;
}
