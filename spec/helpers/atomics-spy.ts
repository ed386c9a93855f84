/**
 * Run `body` with `Atomics.load` or `Atomics.store` wrapped: `after` runs
 * after every call, with its arguments, once the real operation is done.
 * White-box tests use it to count a scan's loads, or to check an invariant
 * after every single store of an edit.
 */
export function spyAtomics(
  name: 'load' | 'store',
  after: (array: Int32Array, index: number, value: number) => void,
  body: () => void,
): void {
  const atomics = Atomics as unknown as Record<'load' | 'store', (array: Int32Array, index: number, value?: number) => number>;
  const original = atomics[name];
  atomics[name] = (array: Int32Array, index: number, value?: number): number => {
    const result = original(array, index, value);
    after(array, index, value ?? result);
    return result;
  };
  try {
    body();
  } finally {
    atomics[name] = original;
  }
}
