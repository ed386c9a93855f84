/**
 * Linearizability worker for string keys with string, json, int32 or float64
 * values: random get / has / set / delete / getOrSet / compareAndSet (not json) on
 * a few shared keys per round, each recorded with invoke and response ticks of
 * a shared clock; between recorded ops it inserts and deletes filler keys of
 * its own so the table keeps migrating. json values are recorded as their
 * JSON text (the map returns parsed copies; their text is canonical here).
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../../../lib/index.js';
import type { HistoryOp, HistoryValue, OpKind } from '../../helpers/linearizability.js';
import { SeededPrng } from '../../helpers/prng.js';
import { Barrier, Clock, DEADLINE_CHECK_EVERY, finishWorker } from '../support.js';

export interface StringLinearizabilityData {
  handle: SharedFlatMapHandle;
  /** The map's value kind; json values are recorded as their JSON text. */
  kind: 'string' | 'json' | 'int32' | 'float64';
  clock: SharedArrayBuffer;
  barrier: SharedArrayBuffer;
  parties: number;
  thread: number;
  seed: number;
  rounds: string[][];
  opsPerKey: number;
  /** Values for set / getOrSet / compareAndSet: strings, JSON texts for json maps, numbers. */
  values: HistoryValue[];
  opsPerFillerStep: number;
  fillerMaxLive: number;
  deadline: number;
}

export interface StringLinearizabilityResult {
  history: HistoryOp[];
  fillerInserts: number;
  stoppedByDeadline: boolean;
}

const STRING_OPS: OpKind[] = [
  ...Array<OpKind>(25).fill('get'),
  ...Array<OpKind>(5).fill('has'),
  ...Array<OpKind>(20).fill('set'),
  ...Array<OpKind>(15).fill('delete'),
  ...Array<OpKind>(15).fill('getOrSet'),
  ...Array<OpKind>(20).fill('compareAndSet'),
];
const JSON_OPS = STRING_OPS.filter((kind) => kind !== 'compareAndSet');
const HOT_KEY_SHARE = 0.5;

function run(data: StringLinearizabilityData): StringLinearizabilityResult {
  const map = SharedFlatMap.attach<string, unknown>(data.handle);
  const clock = new Clock(data.clock);
  const prng = new SeededPrng(data.seed);
  const barrier = new Barrier(data.barrier, data.parties);
  const json = data.kind === 'json';
  const ops = json ? JSON_OPS : STRING_OPS;
  const toStored = (value: HistoryValue): unknown => (json ? JSON.parse(value as string) : value);
  const toRecorded = (value: unknown): HistoryValue | null =>
    value === undefined ? null : json ? JSON.stringify(value) : (value as HistoryValue);
  const live: string[] = [];
  let fillerInserts = 0;
  const fillerStep = (): void => {
    const key = `filler/${data.thread}/${fillerInserts++}/${'é'.repeat(fillerInserts % 5)}`;
    map.set(key, toStored(data.values[fillerInserts % data.values.length] as HistoryValue));
    live.push(key);
    if (live.length > data.fillerMaxLive) map.delete(live.shift() as string);
  };
  const lastSeen = new Map<string, HistoryValue | null>();
  const history: HistoryOp[] = [];
  let stoppedByDeadline = false;
  const thread = data.thread;

  for (const keys of data.rounds) {
    barrier.wait();
    if (stoppedByDeadline) continue;
    const remaining = new Map<string, number>(keys.map((k) => [k, data.opsPerKey]));
    const open = [...keys];
    const total = keys.length * data.opsPerKey;
    for (let n = 0; n < total; n++) {
      if (n % DEADLINE_CHECK_EVERY === 0 && Date.now() > data.deadline) {
        stoppedByDeadline = true;
        break;
      }
      const index = prng.chance(HOT_KEY_SHARE) ? 0 : prng.int(0, open.length);
      const key = open[index] as string;
      const left = (remaining.get(key) as number) - 1;
      remaining.set(key, left);
      if (left === 0) open.splice(index, 1);

      const kind = prng.pick(ops);
      let op: HistoryOp;
      switch (kind) {
        case 'get': {
          const invoke = clock.tick();
          const value = map.get(key);
          op = { thread, key, kind, result: toRecorded(value), invoke, response: clock.tick() };
          lastSeen.set(key, op.result as HistoryValue | null);
          break;
        }
        case 'has': {
          const invoke = clock.tick();
          const result = map.has(key);
          op = { thread, key, kind, result, invoke, response: clock.tick() };
          break;
        }
        case 'set': {
          const arg = prng.pick(data.values);
          const stored = toStored(arg);
          const invoke = clock.tick();
          map.set(key, stored);
          op = { thread, key, kind, arg, result: null, invoke, response: clock.tick() };
          lastSeen.set(key, arg);
          break;
        }
        case 'delete': {
          const invoke = clock.tick();
          const result = map.delete(key);
          op = { thread, key, kind, result, invoke, response: clock.tick() };
          lastSeen.set(key, null);
          break;
        }
        case 'getOrSet': {
          const arg = prng.pick(data.values);
          const stored = toStored(arg);
          const invoke = clock.tick();
          const value = map.getOrSet(key, stored);
          op = { thread, key, kind, arg, result: toRecorded(value), invoke, response: clock.tick() };
          lastSeen.set(key, op.result as HistoryValue | null);
          break;
        }
        default: {
          const arg = prng.pick(data.values);
          const roll = prng.float();
          const expected = roll < 0.5 ? (lastSeen.get(key) ?? null) : roll < 0.75 ? null : prng.pick(data.values);
          const invoke = clock.tick();
          const result = map.compareAndSet(key, expected === null ? undefined : expected, arg);
          op = { thread, key, kind, arg, expected, result, invoke, response: clock.tick() };
          if (result) lastSeen.set(key, arg);
          break;
        }
      }
      history.push(op);
      if (n % data.opsPerFillerStep === 0) fillerStep();
    }
  }
  return { history, fillerInserts, stoppedByDeadline };
}

finishWorker(run(workerData as StringLinearizabilityData));
