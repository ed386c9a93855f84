/**
 * Codecs of the variable-length kinds: string keys, and string, bytes and
 * json values. Each `prepare*` validates its input and computes the encoded
 * form BEFORE anything in shared memory is touched, so bad input throws a
 * typed error and leaves the map unchanged.
 *
 * | kind          | accepted                                   | stored as                     | read back           |
 * |---------------|--------------------------------------------|-------------------------------|---------------------|
 * | string key    | any string (lone surrogates too), <= 64 KiB encoded | strings.ts form      | the same string     |
 * | string value  | any string, <= 16 MiB encoded              | strings.ts form               | the same string     |
 * | bytes value   | a Uint8Array (Buffer too), <= 16 MiB       | raw bytes, TAG_BYTES          | a fresh Uint8Array  |
 * | json value    | what JSON.stringify maps to text exactly   | its JSON text, strings.ts form | JSON.parse(text)   |
 *
 * JSON refuses (ERR_FLATSHARE_VALUE) what would not round-trip: `undefined`,
 * functions, symbols (also nested, where JSON.stringify would drop them or turn
 * them into null), BigInt, non-finite numbers, and cycles.
 */
import { ErrorCode, FlatshareRangeError, FlatshareTypeError, describe } from './errors.js';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES, TAG_BYTES } from './layout.js';
import { stringBytes, stringTag } from './strings.js';

/** A value or key ready to be written into a block. */
export interface Prepared {
  /** Encoding tag of the block (TAG_LATIN1, TAG_UTF16 or TAG_BYTES). */
  tag: number;
  /** Payload length in bytes. */
  byteLength: number;
  /** The text to write (string keys, string and json values). */
  text: string;
  /** The bytes to write (bytes values). */
  raw: Uint8Array | undefined;
}

/** Validate a string key. Throws ERR_FLATSHARE_KEY. */
export function prepareStringKey(key: unknown): Prepared {
  if (typeof key !== 'string') {
    throw new FlatshareTypeError(ErrorCode.KEY, `key must be a string; got ${typeof key} ${describe(key)}`);
  }
  return prepareText(key, MAX_KEY_BYTES, ErrorCode.KEY, 'key');
}

/** Throw ERR_FLATSHARE_KEY unless `key` is a string (the read path: no size check, an oversized key is simply absent). */
export function checkStringKey(key: unknown): string {
  if (typeof key !== 'string') {
    throw new FlatshareTypeError(ErrorCode.KEY, `key must be a string; got ${typeof key} ${describe(key)}`);
  }
  return key;
}

/**
 * `prepareStringKey` for a string whose form the caller already knows (`tag`,
 * from the one pass that also hashed and packed it: murmur3StringPacked).
 */
export function prepareStringKeyTagged(key: string, tag: number): Prepared {
  return prepareTextTagged(key, tag, MAX_KEY_BYTES, ErrorCode.KEY, 'key');
}

function prepareText(text: string, limit: number, code: typeof ErrorCode.KEY | typeof ErrorCode.VALUE, what: string): Prepared {
  return prepareTextTagged(text, stringTag(text), limit, code, what);
}

function prepareTextTagged(
  text: string,
  tag: number,
  limit: number,
  code: typeof ErrorCode.KEY | typeof ErrorCode.VALUE,
  what: string,
): Prepared {
  const byteLength = stringBytes(text, tag);
  if (byteLength > limit) {
    throw new FlatshareRangeError(
      code,
      `${what} is ${byteLength} bytes encoded (${text.length} UTF-16 code units); the limit is ${limit} bytes`,
    );
  }
  return { tag, byteLength, text, raw: undefined };
}

/** Validate a string value. Throws ERR_FLATSHARE_VALUE. */
export function prepareStringValue(value: unknown, what: string): Prepared {
  if (typeof value !== 'string') {
    throw new FlatshareTypeError(
      ErrorCode.VALUE,
      `${what} must be a string for a string-valued map; got ${typeof value} ${describe(value)}`,
    );
  }
  return prepareText(value, MAX_VALUE_BYTES, ErrorCode.VALUE, what);
}

/** Validate a bytes value. Throws ERR_FLATSHARE_VALUE. */
export function prepareBytesValue(value: unknown, what: string): Prepared {
  if (!(value instanceof Uint8Array)) {
    throw new FlatshareTypeError(
      ErrorCode.VALUE,
      `${what} must be a Uint8Array for a bytes-valued map; got ${typeof value} ${describe(value)}`,
    );
  }
  if (value.byteLength > MAX_VALUE_BYTES) {
    throw new FlatshareRangeError(ErrorCode.VALUE, `${what} is ${value.byteLength} bytes; the limit is ${MAX_VALUE_BYTES} bytes`);
  }
  return { tag: TAG_BYTES, byteLength: value.byteLength, text: '', raw: value };
}

/** JSON.stringify replacer that refuses what would not round-trip. */
function strictReplacer(this: unknown, key: string, value: unknown): unknown {
  switch (typeof value) {
    case 'undefined':
    case 'function':
    case 'symbol':
      throw new FlatshareTypeError(
        ErrorCode.VALUE,
        `a json value cannot hold ${describe(value)}${key === '' ? '' : ` (at key ${JSON.stringify(key)})`}: JSON would drop it`,
      );
    case 'bigint':
      throw new FlatshareTypeError(ErrorCode.VALUE, `a json value cannot hold the BigInt ${describe(value)}`);
    case 'number':
      if (!Number.isFinite(value)) {
        throw new FlatshareRangeError(ErrorCode.VALUE, `a json value cannot hold ${value}: JSON would store null`);
      }
      return value;
    default:
      return value;
  }
}

/** Validate and serialize a json value. Throws ERR_FLATSHARE_VALUE. */
export function prepareJsonValue(value: unknown, what: string): Prepared {
  let text: string;
  try {
    text = JSON.stringify(value, strictReplacer);
  } catch (error) {
    if (error instanceof FlatshareTypeError || error instanceof FlatshareRangeError) throw error;
    // JSON.stringify's own TypeError: a cycle, or a toJSON that threw a TypeError.
    throw new FlatshareTypeError(ErrorCode.VALUE, `${what} cannot be stored as JSON: ${(error as Error).message}`);
  }
  return prepareText(text, MAX_VALUE_BYTES, ErrorCode.VALUE, what);
}
