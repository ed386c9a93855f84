/**
 * flatshare: one hash map in shared memory for every worker_thread.
 *
 * @packageDocumentation
 */
export {
  SharedFlatMap,
  type SharedFlatMapOptions,
  type AttachOptions,
  type SharedFlatMapHandle,
  type KeyKindOption,
  type ValueKindOption,
  type TrySetStatus,
} from './shared-flat-map.js';
export type { RecoveryReport } from './recovery.js';
export { hashers, type Hasher, type XXHashOptions } from './hashers/index.js';
export {
  ErrorCode,
  FlatshareTypeError,
  FlatshareRangeError,
  FlatshareFullError,
  FlatshareUnsupportedError,
  FlatshareTimeoutError,
  type ErrorCodeName,
  type FlatshareErrorLike,
} from './errors.js';
export { LAYOUT_VERSION, MAX_WRITERS } from './layout.js';
export type { SharedWasmMemory } from './wasm/api.js';
