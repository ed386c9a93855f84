/**
 * The few WebAssembly JS-API members flatshare uses, typed here so that
 * neither this package nor its users need the DOM typings (`lib: ["dom"]`),
 * which are where TypeScript declares the WebAssembly namespace.
 * `undefined` when the process has no WebAssembly (node --jitless).
 */

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
