/**
 * Linearizability worker: random mixed operations on a few shared keys, each
 * recorded as a HistoryOp with invoke/response ticks of a shared clock, with
 * filler inserts and deletes in between so the table keeps migrating.
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../../../lib/index.js';
import type { HistoryOp, HistoryValue, OpKind } from '../../helpers/linearizability.js';
import { SeededPrng } from '../../helpers/prng.js';
import { Barrier, Clock, DEADLINE_CHECK_EVERY, FillerChurn, fillerRangeStart, finishWorker } from '../support.js';

export interface LinearizabilityWorkerData {
  handle: SharedFlatMapHandle;
  clock: SharedArrayBuffer;
  barrier: SharedArrayBuffer;
  parties: number;
  thread: number;
  seed: number;
  /** The shared keys whose histories are recorded, one key set per round (rounds start at a barrier). */
  rounds: number[][];
  /** Recorded operations per key for this worker (bounds the checker's work). */
  opsPerKey: number;
  /** Values for set / getOrSet / compareAndSet. */
  values: number[];
  /** Deltas for add. */
  deltas: number[];
  /** One filler step (unrecorded insert + delete) after every this many recorded operations. */
  opsPerFillerStep: number;
  /** Live filler keys this worker keeps at most. */
  fillerMaxLive: number;
  deadline: number;
}

export interface LinearizabilityWorkerResult {
  history: HistoryOp[];
  fillerInserts: number;
  stoppedByDeadline: boolean;
}

/** Relative weights of the operations. */
const OP_WEIGHTS: ReadonlyArray<readonly [OpKind, number]> = [
  ['get', 25],
  ['has', 5],
  ['set', 15],
  ['delete', 15],
  ['add', 10],
  ['getOrSet', 15],
  ['compareAndSet', 15],
];
/** compareAndSet expectations: the last value this worker saw for the key, "absent", or a random pool value. */
const CAS_EXPECT_LAST_SEEN = 0.5;
const CAS_EXPECT_ABSENT = 0.25;

/** Share of ops that go to the round's current hot key (the first key whose quota is not used up). */
const HOT_KEY_SHARE = 0.5;

const OP_TABLE: OpKind[] = OP_WEIGHTS.flatMap(([kind, weight]) => Array<OpKind>(weight).fill(kind));

function run(data: LinearizabilityWorkerData): LinearizabilityWorkerResult {
  const map = SharedFlatMap.attach<number, number>(data.handle);
  const clock = new Clock(data.clock);
  const prng = new SeededPrng(data.seed);
  const barrier = new Barrier(data.barrier, data.parties);
  const filler = new FillerChurn(map, fillerRangeStart(data.thread), data.fillerMaxLive);
  const lastSeen = new Map<number, number | null>();
  const history: HistoryOp[] = [];
  let stoppedByDeadline = false;

  for (const keys of data.rounds) {
    // Every worker attends every round's barrier, even past the deadline, so nobody waits forever.
    barrier.wait();
    if (stoppedByDeadline) continue;
    const remaining = new Map<number, number>(keys.map((k) => [k, data.opsPerKey]));
    const open = [...keys];
    const total = keys.length * data.opsPerKey;
    for (let n = 0; n < total; n++) {
      if (n % DEADLINE_CHECK_EVERY === 0 && Date.now() > data.deadline) {
        stoppedByDeadline = true;
        break;
      }
      // A rolling hot key (the first key with quota left) draws HOT_KEY_SHARE of the ops, so threads collide.
      const index = prng.chance(HOT_KEY_SHARE) ? 0 : prng.int(0, open.length);
      const key = open[index] as number;
      const left = (remaining.get(key) as number) - 1;
      remaining.set(key, left);
      if (left === 0) open.splice(index, 1);

      const op = perform(map, clock, prng, data, key, prng.pick(OP_TABLE), lastSeen);
      history.push(op);
      lastSeen.set(key, stateAfter(op, lastSeen.get(key) ?? null));

      if (n % data.opsPerFillerStep === 0) filler.step();
    }
  }
  return { history, fillerInserts: filler.inserted, stoppedByDeadline };
}

/** What this worker last knew the key to hold, after its own op (a hint for compareAndSet only). */
function stateAfter(op: HistoryOp, before: number | null): number | null {
  switch (op.kind) {
    case 'get':
    case 'add':
    case 'getOrSet':
      return op.result as number | null;
    case 'set':
      return op.arg as number;
    case 'delete':
      return null;
    case 'compareAndSet':
      return op.result === true ? (op.arg as number) : before;
    case 'has':
      return op.result === false ? null : before;
  }
}

function perform(
  map: SharedFlatMap<number, number>,
  clock: Clock,
  prng: SeededPrng,
  data: LinearizabilityWorkerData,
  key: number,
  kind: OpKind,
  lastSeen: Map<number, number | null>,
): HistoryOp {
  const thread = data.thread;
  switch (kind) {
    case 'get': {
      const invoke = clock.tick();
      const value = map.get(key);
      const response = clock.tick();
      return { thread, key, kind, result: value ?? null, invoke, response };
    }
    case 'has': {
      const invoke = clock.tick();
      const result = map.has(key);
      const response = clock.tick();
      return { thread, key, kind, result, invoke, response };
    }
    case 'set': {
      const arg = prng.pick(data.values);
      const invoke = clock.tick();
      map.set(key, arg);
      const response = clock.tick();
      return { thread, key, kind, arg, result: null, invoke, response };
    }
    case 'delete': {
      const invoke = clock.tick();
      const result = map.delete(key);
      const response = clock.tick();
      return { thread, key, kind, result, invoke, response };
    }
    case 'add': {
      const arg = prng.pick(data.deltas);
      const invoke = clock.tick();
      const result = map.add(key, arg);
      const response = clock.tick();
      return { thread, key, kind, arg, result, invoke, response };
    }
    case 'getOrSet': {
      const arg = prng.pick(data.values);
      const invoke = clock.tick();
      const result = map.getOrSet(key, arg);
      const response = clock.tick();
      return { thread, key, kind, arg, result, invoke, response };
    }
    case 'compareAndSet': {
      const arg = prng.pick(data.values);
      const roll = prng.float();
      let expected: HistoryValue | null;
      if (roll < CAS_EXPECT_LAST_SEEN) expected = lastSeen.get(key) ?? null;
      else if (roll < CAS_EXPECT_LAST_SEEN + CAS_EXPECT_ABSENT) expected = null;
      else expected = prng.pick(data.values);
      const invoke = clock.tick();
      const result = map.compareAndSet(key, expected === null ? undefined : (expected as number), arg);
      const response = clock.tick();
      return { thread, key, kind, arg, expected, result, invoke, response };
    }
  }
}

finishWorker(run(workerData as LinearizabilityWorkerData));
