/**
 * Shared log of the kill test (spec/stress/kill.test.ts): per key, the value
 * the writer is about to store (PENDING) and the value stored by its last
 * completed operation (COMMITTED), plus an operation counter. ABSENT stands
 * for "no entry". Used by the writer worker and the checking test.
 */
export const ABSENT = -(2 ** 31);
/** Live filler keys a writer keeps at most, before it deletes the oldest (kill-writer.worker.ts). */
export const FILLER_LIVE = 24;

const OPS = 0; // operations completed by the current writer
const FULLS = 1; // writes that answered ERR_FLATSHARE_FULL, by every writer
const HEADER = 2;
const COMMITTED = 0;
const PENDING = 1;
const PER_KEY = 2;

export class KillLog {
  private readonly words: Int32Array;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly keyCount: number,
  ) {
    this.words = new Int32Array(buffer);
  }

  static create(keyCount: number): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer((HEADER + keyCount * PER_KEY) * Int32Array.BYTES_PER_ELEMENT);
    const words = new Int32Array(buffer);
    words.fill(ABSENT, HEADER);
    return buffer;
  }

  committed(key: number): number {
    return Atomics.load(this.words, HEADER + key * PER_KEY + COMMITTED);
  }
  pending(key: number): number {
    return Atomics.load(this.words, HEADER + key * PER_KEY + PENDING);
  }
  /** Before an operation on `key`: it may leave `value` behind. */
  begin(key: number, value: number): void {
    Atomics.store(this.words, HEADER + key * PER_KEY + PENDING, value);
  }
  /** After it: `value` is stored. */
  commit(key: number, value: number): void {
    Atomics.store(this.words, HEADER + key * PER_KEY + COMMITTED, value);
  }
  /** After a kill: the checker found `value` stored; both entries agree again. */
  settle(key: number, value: number): void {
    this.begin(key, value);
    this.commit(key, value);
  }
  tick(): void {
    Atomics.add(this.words, OPS, 1);
  }
  get ops(): number {
    return Atomics.load(this.words, OPS);
  }
  /** A write answered ERR_FLATSHARE_FULL (and changed nothing). */
  full(): void {
    Atomics.add(this.words, FULLS, 1);
  }
  get fulls(): number {
    return Atomics.load(this.words, FULLS);
  }
  resetOps(): void {
    Atomics.store(this.words, OPS, 0);
  }
  get keys(): number {
    return this.keyCount;
  }
}
