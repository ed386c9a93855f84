/**
 * The few WebAssembly JS-API members flatshare uses, typed here so that
 * neither this package nor its users need the DOM typings (`lib: ["dom"]`),
 * which are where TypeScript declares the WebAssembly namespace.
 * `undefined` when the process has no WebAssembly (node --jitless).
 * Also the two steps every module of lib/wasm shares: compile once per thread
 * (`compiledOnce`), instantiate over a map's memory (`instantiateOver`).
 */
import { FlatshareUnsupportedError } from '../errors.js';

/** A shared WebAssembly.Memory, typed structurally (what `SharedFlatMapHandle.memory` holds). */
export interface SharedWasmMemory {
  /** A SharedArrayBuffer over the memory as long as it is now (a new object after it grew). */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Add `deltaPages` pages of 64 KiB; returns the previous page count. Throws RangeError past the maximum. */
  grow(deltaPages: number): number;
}

/** A compiled module (opaque here). */
export interface WasmModule {
  readonly __brand?: 'WebAssembly.Module';
}

export interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: true }) => SharedWasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
}

export const wasmApi: WasmApi | undefined = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

/**
 * A getter of the module assembled in `base64`, compiled on its first call in
 * this thread (synchronously: the modules are about a kilobyte) and then
 * reused. Throws FlatshareUnsupportedError in a process without WebAssembly.
 */
export function compiledOnce(base64: string): () => WasmModule {
  let compiled: WasmModule | undefined;
  return () => {
    if (wasmApi === undefined) throw new FlatshareUnsupportedError('flatshare needs WebAssembly; it is not available in this process');
    if (compiled === undefined) compiled = new wasmApi.Module(Buffer.from(base64, 'base64'));
    return compiled;
  };
}

/** Instantiate `module` over one map's memory (the only import of every flatshare module); returns its exports. */
export function instantiateOver(module: WasmModule, memory: SharedWasmMemory): unknown {
  return new (wasmApi as WasmApi).Instance(module, { env: { memory } }).exports;
}
