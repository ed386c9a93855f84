/**
 * Linearizability checker for per-key histories recorded by real workers.
 *
 * ## What is checked
 *
 * A history is a set of completed operations, each with the logical time it
 * was invoked and the logical time it returned (both read from one shared
 * `Atomics` counter, so they are totally ordered across threads). The history
 * is *linearizable* if every operation can be given a single instant between
 * its invoke and its response such that, replayed in that order, each result
 * matches the sequential specification. Linearizability is *local*
 * (compositional): a history over many keys is linearizable iff the
 * sub-history of every key is, so {@link checkHistory} partitions by key and
 * checks each partition with {@link checkKeyHistory}.
 *
 * The sequential specification of one key is a register that may be absent;
 * see {@link applySequential}.
 *
 * ## Algorithm
 *
 * Wing & Gong's backtracking search, in the form popularised by Lowe and by
 * Porcupine:
 *
 * 1. Sort the 2n call/return events by time into a doubly linked list (calls
 *    before returns on equal timestamps, i.e. ties count as overlapping).
 * 2. Scan from the head. A *call* event is a candidate: every op whose call
 *    precedes the first return in the list was invoked before the minimum
 *    response among the not-yet-linearized ops, so it may legally go next.
 *    If applying it to the current state gives its recorded result, push it,
 *    unlink its call and return events (dancing links) and rescan.
 * 3. Reaching a *return* event means that op had to take effect already but
 *    could not: pop the last linearized op, restore its events and try the
 *    next candidate after it. An empty stack means no linearization exists.
 * 4. Lowe's memoization: a configuration is (set of linearized ops, state).
 *    Two paths reaching the same configuration have identical futures, so
 *    every configuration is expanded at most once.
 *
 * The search uses an explicit stack (no recursion), so 100k-op histories do
 * not overflow the JS stack. The linearized set is a bitset over ops sorted by
 * invoke time; the memo key only encodes the window of words between the
 * first word that is not full and the last word that is not empty (words
 * below are all ones, words above all zeros), so keys stay short when the
 * overlap is bounded by the thread count.
 *
 * ## Complexity
 *
 * Checking linearizability is NP-complete in general (Gibbons & Korach 1997).
 * With memoization the search visits at most (reachable linearized sets) x
 * (distinct states) configurations. When at most `w` ops are pending at once
 * (w <= thread count for synchronous workers) the number of reachable sets is
 * O(n * 2^w), so a 4-thread history of n ops costs roughly O(n * 16 * s) steps
 * where `s` is the number of values that can occupy the key at a point — a
 * few thousand ops check in milliseconds. Because the worst case is
 * exponential in the number of pending ops, the search is capped by
 * {@link CheckOptions.maxConfigurations}; hitting the cap throws
 * {@link LinearizabilityBudgetError} (inconclusive) rather than guessing.
 *
 * ## References
 *
 * - M. Herlihy, J. Wing. "Linearizability: A Correctness Condition for
 *   Concurrent Objects". TOPLAS 1990.
 * - J. Wing, C. Gong. "Testing and Verifying Concurrent Objects". JPDC 1993.
 * - G. Lowe. "Testing for linearizability". Concurrency and Computation:
 *   Practice and Experience 29(4), 2017.
 * - A. Horn, D. Kroening. "Faster linearizability checking via
 *   P-compositionality". FORTE 2015.
 * - A. Athalye. Porcupine, a fast linearizability checker in Go (2017).
 */

/** The kinds of map operations a worker can record. */
export type OpKind = 'get' | 'set' | 'delete' | 'has' | 'add' | 'getOrSet' | 'compareAndSet';

/** A map key as recorded in a history. */
export type HistoryKey = number | string;

/** A value stored under a key. */
export type HistoryValue = number | string;

/** State of one key: a value, or `null` when the key is absent. */
export type KeyState = HistoryValue | null;

/**
 * One completed operation. Plain data (structured-cloneable and JSON-safe),
 * so workers can `postMessage` their histories back. `null` means absent.
 */
export interface HistoryOp {
  /** Worker index. */
  thread: number;
  key: HistoryKey;
  kind: OpKind;
  /** set value, add delta, getOrSet value, compareAndSet NEW value. */
  arg?: HistoryValue;
  /** compareAndSet expected value; `null` (or omitted) means "absent". */
  expected?: HistoryValue | null;
  /**
   * get -> value or null if absent; set -> ignored (record null);
   * delete/has/compareAndSet -> boolean; add -> new value;
   * getOrSet -> the value stored after the call.
   */
  result: HistoryValue | boolean | null;
  /** Logical timestamp from a shared Atomics counter taken BEFORE the call. */
  invoke: number;
  /** Logical timestamp taken AFTER the call returned; invoke < response. */
  response: number;
}

/** Outcome of a check. On failure, `ops` is an excerpt (<= ~50 ops) of the offending key. */
export type CheckResult =
  | { ok: true }
  | { ok: false; key: HistoryKey; reason: string; ops: HistoryOp[] };

/** Result of applying one op to a state under the sequential specification. */
export type SequentialStep = { legal: true; state: KeyState } | { legal: false };

/** Default cap on memoized configurations per key (see {@link CheckOptions}). */
export const DEFAULT_MAX_CONFIGURATIONS = 2_000_000;

/** Tuning for {@link checkKeyHistory} / {@link checkHistory}. */
export interface CheckOptions {
  /**
   * Give up (throw {@link LinearizabilityBudgetError}) after memoizing this many
   * (linearized set, state) configurations for one key. The search is
   * exponential in the number of simultaneously pending ops, so e.g. 16+
   * threads hammering one key can exhaust memory; the error makes that
   * inconclusive outcome explicit instead of reporting a bogus verdict.
   * Default {@link DEFAULT_MAX_CONFIGURATIONS}.
   */
  maxConfigurations?: number;
}

/** Thrown when the search exceeds {@link CheckOptions.maxConfigurations}: the verdict is unknown. */
export class LinearizabilityBudgetError extends Error {
  constructor(
    readonly key: HistoryKey,
    readonly opCount: number,
    readonly configurations: number,
  ) {
    super(
      `linearizability check of key ${String(key)} (${opCount} ops) gave up after ${configurations} ` +
        'configurations: inconclusive. Use fewer threads per key, shorter histories, or raise maxConfigurations.',
    );
    this.name = 'LinearizabilityBudgetError';
  }
}

/** Maximum number of ops in a failure excerpt. */
const EXCERPT_LIMIT = 50;
/** Linearized ops shown before the failure point in a reason. */
const REASON_TAIL = 5;
/** Candidate ops listed in a reason. */
const REASON_CANDIDATES = 8;
/** Bits per word of the linearized-set bitset (Uint16 words become UTF-16 code units). */
const WORD_BITS = 16;
/** A bitset word with every bit set. */
const FULL_WORD = 0xffff;
/** Max code units passed to one String.fromCharCode call. */
const FROM_CHAR_CODE_CHUNK = 4096;
/** Marks "no entry" in the event linked list. */
const NIL = -1;

const OP_KINDS: ReadonlySet<string> = new Set<OpKind>([
  'get',
  'set',
  'delete',
  'has',
  'add',
  'getOrSet',
  'compareAndSet',
]);

const ILLEGAL: SequentialStep = { legal: false };

function sameValue(a: KeyState, b: KeyState | boolean | undefined): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

function isValue(v: unknown): v is HistoryValue {
  return typeof v === 'number' || typeof v === 'string';
}

/**
 * The sequential specification of one key. Returns the state after `op`, or
 * `{ legal: false }` if `op`'s recorded result is impossible from `state`.
 *
 * - get: returns the value or null. has: returns whether present.
 * - set(v): state = v (the result is not checked).
 * - delete: returns whether present; state = absent.
 * - add(d): numeric; absent counts as 0; state = old + d; returns new state.
 * - getOrSet(v): if absent, state = v; returns the state after the op.
 * - compareAndSet(expected, next): if state equals expected (null = absent),
 *   state = next and returns true; otherwise returns false, state unchanged.
 */
export function applySequential(state: KeyState, op: HistoryOp): SequentialStep {
  switch (op.kind) {
    case 'get':
      return sameValue(state, op.result) ? { legal: true, state } : ILLEGAL;
    case 'has':
      return op.result === (state !== null) ? { legal: true, state } : ILLEGAL;
    case 'set':
      return isValue(op.arg) ? { legal: true, state: op.arg } : ILLEGAL;
    case 'delete':
      return op.result === (state !== null) ? { legal: true, state: null } : ILLEGAL;
    case 'add': {
      if (typeof op.arg !== 'number') return ILLEGAL;
      if (state !== null && typeof state !== 'number') return ILLEGAL;
      const next = (state ?? 0) + op.arg;
      return sameValue(next, op.result) ? { legal: true, state: next } : ILLEGAL;
    }
    case 'getOrSet': {
      if (!isValue(op.arg)) return ILLEGAL;
      const next = state ?? op.arg;
      return sameValue(next, op.result) ? { legal: true, state: next } : ILLEGAL;
    }
    case 'compareAndSet': {
      if (!isValue(op.arg)) return ILLEGAL;
      const matches = sameValue(state, op.expected ?? null);
      if (op.result !== matches) return ILLEGAL;
      return { legal: true, state: matches ? op.arg : state };
    }
    default:
      return ILLEGAL;
  }
}

/** Encodes a state for memo keys (type tag + value, so 1 and '1' differ). */
function encodeState(state: KeyState): string {
  if (state === null) return 'a';
  return typeof state === 'number' ? `n${state}` : `s${state}`;
}

function formatValue(v: HistoryValue | boolean | null | undefined): string {
  if (v === null || v === undefined) return 'absent';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/** One op as a single readable line. */
export function formatOp(op: HistoryOp): string {
  let call: string;
  switch (op.kind) {
    case 'compareAndSet':
      call = `compareAndSet(${formatValue(op.expected ?? null)} -> ${formatValue(op.arg)})`;
      break;
    case 'set':
    case 'add':
    case 'getOrSet':
      call = `${op.kind}(${formatValue(op.arg)})`;
      break;
    default:
      call = `${op.kind}()`;
  }
  const result = op.kind === 'set' ? '' : ` -> ${typeof op.result === 'boolean' ? String(op.result) : formatValue(op.result)}`;
  return `[${op.invoke}..${op.response}] T${op.thread} key=${formatValue(op.key)} ${call}${result}`;
}

/** Readable multi-line rendering of a history, sorted by invoke time. */
export function formatHistory(ops: readonly HistoryOp[]): string {
  return [...ops]
    .sort((x, y) => x.invoke - y.invoke || x.response - y.response)
    .map(formatOp)
    .join('\n');
}

/** Up to EXCERPT_LIMIT ops of `sorted` centred on index `at`. */
function excerpt(sorted: readonly HistoryOp[], at: number): HistoryOp[] {
  const half = Math.floor(EXCERPT_LIMIT / 2);
  const start = Math.max(0, Math.min(at - half, sorted.length - EXCERPT_LIMIT));
  return sorted.slice(start, start + EXCERPT_LIMIT);
}

/** Returns a description of the first malformed op, or null if all are well formed. */
function findMalformed(ops: readonly HistoryOp[]): { op: HistoryOp; index: number; why: string } | null {
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as HistoryOp;
    let why: string | null = null;
    if (!OP_KINDS.has(op.kind)) why = `unknown kind ${JSON.stringify(op.kind)}`;
    else if (!Number.isFinite(op.invoke) || !Number.isFinite(op.response)) why = 'invoke/response must be finite numbers';
    else if (!(op.invoke < op.response)) why = `invoke (${op.invoke}) must be < response (${op.response})`;
    else if ((op.kind === 'set' || op.kind === 'getOrSet' || op.kind === 'compareAndSet') && !isValue(op.arg))
      why = `${op.kind} needs a value in arg`;
    else if (op.kind === 'add' && typeof op.arg !== 'number') why = 'add needs a numeric delta in arg';
    if (why !== null) return { op, index: i, why };
  }
  return null;
}

/**
 * Every worker is synchronous, so one thread's ops must not overlap in time.
 * Overlap means the recorder (not the map) is broken.
 */
function findThreadOverlap(ops: readonly HistoryOp[]): { earlier: HistoryOp; later: HistoryOp } | null {
  const byThread = new Map<number, HistoryOp[]>();
  for (const op of ops) {
    let list = byThread.get(op.thread);
    if (list === undefined) byThread.set(op.thread, (list = []));
    list.push(op);
  }
  for (const list of byThread.values()) {
    list.sort((x, y) => x.invoke - y.invoke);
    for (let i = 1; i < list.length; i++) {
      const earlier = list[i - 1] as HistoryOp;
      const later = list[i] as HistoryOp;
      if (later.invoke <= earlier.response) return { earlier, later };
    }
  }
  return null;
}

function validate(ops: readonly HistoryOp[]): CheckResult {
  const bad = findMalformed(ops);
  if (bad !== null) {
    return {
      ok: false,
      key: bad.op.key,
      reason: `malformed op: ${bad.why}: ${formatOp(bad.op)}`,
      ops: excerpt(ops, bad.index),
    };
  }
  const overlap = findThreadOverlap(ops);
  if (overlap !== null) {
    const sorted = [...ops].sort((x, y) => x.invoke - y.invoke);
    return {
      ok: false,
      key: overlap.later.key,
      reason:
        `malformed history: thread ${overlap.later.thread} has overlapping ops ` +
        `(${formatOp(overlap.earlier)} and ${formatOp(overlap.later)}); timestamps are not being recorded correctly`,
      ops: excerpt(sorted, sorted.indexOf(overlap.later)),
    };
  }
  return { ok: true };
}

/**
 * Checks the history of ONE key against the register specification.
 * `initial` is the key's state before the first op (default: absent).
 * All ops are assumed to be on the same key; `key` in a failure is taken
 * from the ops. Throws {@link LinearizabilityBudgetError} if the search
 * exceeds `options.maxConfigurations`.
 */
export function checkKeyHistory(ops: HistoryOp[], initial: KeyState = null, options: CheckOptions = {}): CheckResult {
  const valid = validate(ops);
  if (!valid.ok) return valid;
  return searchKey(ops, initial, options.maxConfigurations ?? DEFAULT_MAX_CONFIGURATIONS);
}

/**
 * Checks a multi-key history key by key (linearizability is local).
 * `initial` gives keys that were present before the history began.
 * Returns the first failing key. Throws {@link LinearizabilityBudgetError} if
 * one key's search exceeds the configuration budget.
 */
export function checkHistory(
  ops: HistoryOp[],
  initial?: ReadonlyMap<HistoryKey, HistoryValue>,
  options: CheckOptions = {},
): CheckResult {
  const valid = validate(ops);
  if (!valid.ok) return valid;
  const byKey = new Map<HistoryKey, HistoryOp[]>();
  for (const op of ops) {
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  for (const [key, keyOps] of byKey) {
    const result = searchKey(keyOps, initial?.get(key) ?? null, options.maxConfigurations ?? DEFAULT_MAX_CONFIGURATIONS);
    if (!result.ok) return result;
  }
  return { ok: true };
}

/** Wing & Gong / Lowe search over one key's (validated) ops. */
function searchKey(unsorted: readonly HistoryOp[], initial: KeyState, maxConfigurations: number): CheckResult {
  const n = unsorted.length;
  if (n === 0) return { ok: true };
  const ops = [...unsorted].sort((x, y) => x.invoke - y.invoke || x.response - y.response);

  // Events: id i < n is the call of ops[i]; id n + i is its return; id 2n is the head sentinel.
  const head = 2 * n;
  const events: number[] = [];
  for (let i = 0; i < 2 * n; i++) events.push(i);
  const timeOf = (e: number): number => (e < n ? (ops[e] as HistoryOp).invoke : (ops[e - n] as HistoryOp).response);
  // Ties: calls before returns (overlap is the permissive reading), then by id.
  events.sort((x, y) => timeOf(x) - timeOf(y) || Number(x >= n) - Number(y >= n) || x - y);
  const next = new Int32Array(2 * n + 1).fill(NIL);
  const prev = new Int32Array(2 * n + 1).fill(NIL);
  let last = head;
  for (const e of events) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  const unlink = (e: number): void => {
    const p = prev[e] as number;
    const q = next[e] as number;
    next[p] = q;
    if (q !== NIL) prev[q] = p;
  };
  const relink = (e: number): void => {
    const p = prev[e] as number;
    const q = next[e] as number;
    next[p] = e;
    if (q !== NIL) prev[q] = e;
  };
  const lift = (i: number): void => {
    unlink(i);
    unlink(n + i);
  };
  const unlift = (i: number): void => {
    relink(n + i);
    relink(i);
  };

  // Linearized set as a bitset; [lo, hi] bounds the words that are neither all-ones nor all-zeros.
  const words = Math.ceil(n / WORD_BITS);
  const bits = new Uint16Array(words);
  let lo = 0; // every word < lo is FULL_WORD
  let hi = -1; // every word > hi is 0
  const setBit = (i: number): void => {
    const w = (i / WORD_BITS) | 0;
    bits[w] = (bits[w] as number) | (1 << i % WORD_BITS);
    if (w > hi) hi = w;
    while (lo < words && bits[lo] === FULL_WORD) lo++;
  };
  const clearBit = (i: number): void => {
    const w = (i / WORD_BITS) | 0;
    bits[w] = (bits[w] as number) & ~(1 << i % WORD_BITS);
    if (w < lo) lo = w;
    while (hi >= 0 && bits[hi] === 0) hi--;
  };
  const memoKey = (state: KeyState): string => {
    // "<lo>:<word count>:<words as code units><state>" is unambiguous: the word
    // count says where the bitset ends, whatever characters the state holds.
    let s = `${lo}:${hi - lo + 1}:`;
    for (let w = lo; w <= hi; w += FROM_CHAR_CODE_CHUNK) {
      const end = Math.min(hi + 1, w + FROM_CHAR_CODE_CHUNK);
      s += String.fromCharCode.apply(null, bits.subarray(w, end) as unknown as number[]);
    }
    return s + encodeState(state);
  };
  const seen = new Set<string>();

  const stackOp = new Int32Array(n);
  const stackState: KeyState[] = new Array<KeyState>(n).fill(null);
  let depth = 0;
  let state = initial;

  // Diagnostics for the deepest dead end.
  let bestDepth = -1;
  let stuckOp = 0;
  let stuckState: KeyState = initial;
  let stuckTail: number[] = [];
  let stuckCandidates: number[] = [];

  let entry = next[head] as number;
  while (next[head] !== NIL) {
    if (entry === NIL) throw new Error('linearizability: event list ended before a return (bug)');
    if (entry < n) {
      const step = applySequential(state, ops[entry] as HistoryOp);
      if (step.legal) {
        setBit(entry);
        const key = memoKey(step.state);
        if (!seen.has(key)) {
          if (seen.size >= maxConfigurations) {
            throw new LinearizabilityBudgetError((ops[0] as HistoryOp).key, n, seen.size);
          }
          seen.add(key);
          stackOp[depth] = entry;
          stackState[depth] = state;
          depth++;
          state = step.state;
          lift(entry);
          entry = next[head] as number;
          continue;
        }
        clearBit(entry);
      }
      entry = next[entry] as number;
      continue;
    }
    // A return event: ops[entry - n] had to be linearized by now.
    if (depth > bestDepth) {
      bestDepth = depth;
      stuckOp = entry - n;
      stuckState = state;
      stuckTail = Array.from(stackOp.subarray(Math.max(0, depth - REASON_TAIL), depth));
      stuckCandidates = [];
      for (let e = next[head] as number; e !== entry && e !== NIL; e = next[e] as number) {
        if (e < n) stuckCandidates.push(e);
      }
    }
    if (depth === 0) break;
    depth--;
    const undo = stackOp[depth] as number;
    state = stackState[depth] as KeyState;
    clearBit(undo);
    unlift(undo);
    entry = next[undo] as number;
  }
  if (next[head] === NIL) return { ok: true };

  const stuck = ops[stuckOp] as HistoryOp;
  const lines = [
    `key ${formatValue(stuck.key)}: history is not linearizable (${n} ops, ${seen.size} configurations explored).`,
    `Longest legal linearization covers ${bestDepth}/${n} ops and leaves the key ${formatValue(stuckState)}` +
      (stuckTail.length > 0 ? `; it ends with:` : '.'),
    ...stuckTail.map((i) => `    ${formatOp(ops[i] as HistoryOp)}`),
    `From there no order of the pending ops lets this op take effect before it returned at t=${stuck.response}:`,
    `    ${formatOp(stuck)}`,
  ];
  const others = stuckCandidates.filter((i) => i !== stuckOp);
  if (others.length > 0) {
    lines.push(`Concurrent candidates at that point (${others.length}):`);
    for (const i of others.slice(0, REASON_CANDIDATES)) lines.push(`    ${formatOp(ops[i] as HistoryOp)}`);
    if (others.length > REASON_CANDIDATES) lines.push(`    ... and ${others.length - REASON_CANDIDATES} more`);
  }
  return { ok: false, key: stuck.key, reason: lines.join('\n'), ops: excerpt(ops, stuckOp) };
}
