/**
 * Typed errors. Every error flatshare throws on purpose carries a stable `code`
 * string (like Node's own `err.code`), so callers can branch on it without
 * parsing messages. The map is never modified by an operation that throws one
 * of these: validation and allocation happen before any shared word is written.
 */

/** All error codes, exported so users can compare against constants. */
export const ErrorCode = {
  /** A key is not of the map's key kind (e.g. a float or an out-of-range number for int32 keys). */
  KEY: 'ERR_FLATSHARE_KEY',
  /** A value is not of the map's value kind (e.g. a string for an int32 map, a non-integer for int32). */
  VALUE: 'ERR_FLATSHARE_VALUE',
  /** A constructor or attach option is missing, of the wrong type or out of range. */
  OPTIONS: 'ERR_FLATSHARE_OPTIONS',
  /** `attach` got something that is not a flatshare handle, or a buffer whose header is not a flatshare map. */
  HANDLE: 'ERR_FLATSHARE_HANDLE',
  /** The handle's layout version is not the one this build of flatshare reads. */
  LAYOUT_VERSION: 'ERR_FLATSHARE_LAYOUT_VERSION',
  /** The hasher passed to `attach` (or rebuilt from the handle) does not have the id recorded in the map. */
  HASHER: 'ERR_FLATSHARE_HASHER',
  /** The map needs more shared memory than `maxBytes` allows. Nothing was changed. */
  FULL: 'ERR_FLATSHARE_FULL',
  /** An operation is not supported for this map's value kind (e.g. `add` on a non-numeric map). */
  UNSUPPORTED: 'ERR_FLATSHARE_UNSUPPORTED',
  /** More threads have written to the map than it has writer records for. */
  THREADS: 'ERR_FLATSHARE_THREADS',
  /**
   * An operation waited longer than `waitTimeoutMs` for a bucket lock or a
   * migration held by another thread (typically a thread that died and was not
   * recovered yet). Nothing was changed by the operation; it may be retried.
   */
  TIMEOUT: 'ERR_FLATSHARE_TIMEOUT',
  /** `recover(threadId)` was called with an invalid thread id (e.g. the calling thread's own). */
  RECOVERY: 'ERR_FLATSHARE_RECOVERY',
} as const;

/** Union of every error code string. */
export type ErrorCodeName = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Anything with a flatshare error code. */
export interface FlatshareErrorLike {
  readonly code: ErrorCodeName;
}

/** A key or value of the wrong JavaScript type, or bad options / handle types. */
export class FlatshareTypeError extends TypeError implements FlatshareErrorLike {
  readonly code: ErrorCodeName;
  constructor(code: ErrorCodeName, message: string) {
    super(message);
    this.name = 'FlatshareTypeError';
    this.code = code;
  }
}

/** A number out of range, an incompatible layout or hasher. */
export class FlatshareRangeError extends RangeError implements FlatshareErrorLike {
  readonly code: ErrorCodeName;
  constructor(code: ErrorCodeName, message: string) {
    super(message);
    this.name = 'FlatshareRangeError';
    this.code = code;
  }
}

/** Thrown when the map would need more than `maxBytes` of shared memory. The map is unchanged. */
export class FlatshareFullError extends RangeError implements FlatshareErrorLike {
  readonly code = ErrorCode.FULL;
  /** Bytes the map would have needed. */
  readonly requestedBytes: number;
  /** The `maxBytes` ceiling of this map. */
  readonly maxBytes: number;
  constructor(requestedBytes: number, maxBytes: number) {
    super(
      `flatshare map is full: it needs ${requestedBytes} bytes of shared memory but maxBytes is ${maxBytes}. ` +
        'No entry was changed; delete entries or create the map with a larger maxBytes.',
    );
    this.name = 'FlatshareFullError';
    this.requestedBytes = requestedBytes;
    this.maxBytes = maxBytes;
  }
}

/** Thrown when an operation waited longer than `waitTimeoutMs`. The operation changed nothing. */
export class FlatshareTimeoutError extends Error implements FlatshareErrorLike {
  readonly code = ErrorCode.TIMEOUT;
  /** How long the operation waited, in milliseconds. */
  readonly waitedMs: number;
  constructor(waitedMs: number, what: string) {
    super(
      `flatshare: waited ${Math.round(waitedMs)} ms for ${what}. A thread that died inside an operation ` +
        'and was not recovered yet holds it; recovery runs when the thread that created the worker sees it exit, ' +
        'or call map.recover(threadId). Nothing was changed; the operation may be retried.',
    );
    this.name = 'FlatshareTimeoutError';
    this.waitedMs = waitedMs;
  }
}

/** Thrown when an operation is not defined for the map's key or value kind. */
export class FlatshareUnsupportedError extends TypeError implements FlatshareErrorLike {
  readonly code = ErrorCode.UNSUPPORTED;
  constructor(message: string) {
    super(message);
    this.name = 'FlatshareUnsupportedError';
  }
}

/** Render a value for an error message without throwing on symbols, BigInts or cycles. */
export function describe(value: unknown): string {
  if (typeof value === 'string') {
    return value.length > 40 ? JSON.stringify(value.slice(0, 40)) + '…' : JSON.stringify(value);
  }
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'function') return 'a function';
  if (value === null) return 'null';
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}
