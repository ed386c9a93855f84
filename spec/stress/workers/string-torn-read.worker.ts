/**
 * Worker for the string-value torn-read and iteration stress tests, in one of
 * four roles (values carry the invariant of string-invariants.ts):
 * - writer: rewrites the shared keys with valid values of random length
 *   (set, compareAndSet, getOrSet, delete), `writerOps` times;
 * - reader: get()s shared keys (mostly the hot ones) and iterates the map,
 *   checking every value, until the stop flag;
 * - filler: inserts and deletes keys of its own range so the table migrates,
 *   until the stop flag; drains its keys at the end;
 * - iterator: walks the map repeatedly and checks every pass: no key twice,
 *   every stable key exactly once with a valid value.
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../../../lib/index.js';
import { SeededPrng } from '../../helpers/prng.js';
import { MAX_BODY_UNITS, isValidStringFor, stringValueOf } from '../string-invariants.js';
import { Barrier, DEADLINE_CHECK_EVERY, StopFlag, finishWorker } from '../support.js';

export type StringTornRole = 'writer' | 'reader' | 'filler' | 'iterator';

export interface StringTornData {
  role: StringTornRole;
  handle: SharedFlatMapHandle;
  barrier: SharedArrayBuffer;
  parties: number;
  stop: SharedArrayBuffer;
  thread: number;
  seed: number;
  /** Shared (or stable) keys; the first hotKeys of them get hotShare of a writer's / reader's ops. */
  keys: string[];
  hotKeys: number;
  hotShare: number;
  writerOps: number;
  getsPerIteration: number;
  fillerMaxLive: number;
  /** iterator: stop after this many passes with at least minOverlapped overlapping a migration, or maxPasses. */
  minPasses: number;
  minOverlapped: number;
  maxPasses: number;
  deadline: number;
}

export interface StringTornResult {
  role: StringTornRole;
  operations: number;
  validatedReads: number;
  changesSeen: number;
  violations: number;
  firstViolations: string[];
  passes: number;
  overlapped: number;
}

const VIOLATIONS_REPORTED = 5;

/** Key of a filler thread's n-th insert. */
export function fillerKey(thread: number, n: number): string {
  return `filler/${thread}/${n}/${'ж'.repeat(n % 4)}`;
}

function run(data: StringTornData): StringTornResult {
  const map = SharedFlatMap.attach<string, string>(data.handle);
  const prng = new SeededPrng(data.seed);
  const stop = new StopFlag(data.stop);
  const r: StringTornResult = {
    role: data.role,
    operations: 0,
    validatedReads: 0,
    changesSeen: 0,
    violations: 0,
    firstViolations: [],
    passes: 0,
    overlapped: 0,
  };
  const violation = (what: string): void => {
    if (r.violations++ < VIOLATIONS_REPORTED) r.firstViolations.push(what);
  };
  const check = (key: string, value: unknown, where: string): void => {
    if (isValidStringFor(key, value)) r.validatedReads++;
    else violation(`${where}: key ${JSON.stringify(key)} read ${JSON.stringify(String(value).slice(0, 80))} (${String(value).length} units)`);
  };
  // Lengths: mostly short, often up to a few hundred, sometimes up to MAX_BODY_UNITS.
  const length = (): number => {
    const roll = prng.float();
    return roll < 0.4 ? prng.int(0, 30) : roll < 0.8 ? prng.int(0, 400) : prng.int(0, MAX_BODY_UNITS + 1);
  };
  const valueFor = (key: string): string => stringValueOf(key, prng.int(0, 1 << 20), length());
  const pickKey = (): string =>
    data.keys[prng.chance(data.hotShare) ? prng.int(0, data.hotKeys) : prng.int(0, data.keys.length)] as string;
  const pastDeadline = (n: number): boolean => n % DEADLINE_CHECK_EVERY === 0 && Date.now() > data.deadline;
  const generation = (): number => SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>).gen;

  new Barrier(data.barrier, data.parties).wait();
  switch (data.role) {
    case 'writer':
      for (let n = 0; n < data.writerOps && !pastDeadline(n); n++, r.operations++) {
        const key = pickKey();
        const roll = prng.float();
        if (roll < 0.45) map.set(key, valueFor(key));
        else if (roll < 0.7) map.compareAndSet(key, map.get(key), valueFor(key));
        else if (roll < 0.85) check(key, map.getOrSet(key, valueFor(key)), 'getOrSet');
        else map.delete(key);
      }
      break;
    case 'reader': {
      const last = new Map<string, string | undefined>();
      for (let n = 0; !stop.raised && !pastDeadline(n); n++, r.operations++) {
        if (n % data.getsPerIteration === data.getsPerIteration - 1) {
          for (const [key, value] of map) {
            if (key.startsWith('filler/')) {
              if (value !== '') violation(`iteration: filler ${key} holds ${value.slice(0, 40)}`);
            } else check(key, value, 'iteration');
          }
          continue;
        }
        const key = pickKey();
        const value = map.get(key);
        if (value !== undefined) check(key, value, 'get');
        if (last.has(key) && last.get(key) !== value) r.changesSeen++;
        last.set(key, value);
      }
      break;
    }
    case 'filler': {
      const live: string[] = [];
      for (let n = 0; !stop.raised && !pastDeadline(n); n++, r.operations++) {
        const key = fillerKey(data.thread, n);
        map.set(key, '');
        live.push(key);
        if (live.length > data.fillerMaxLive) map.delete(live.shift() as string);
      }
      for (const key of live) map.delete(key);
      break;
    }
    case 'iterator': {
      const stable = new Set(data.keys);
      const seen = new Set<string>();
      while (
        r.passes < data.maxPasses &&
        Date.now() < data.deadline &&
        !(r.passes >= data.minPasses && r.overlapped >= data.minOverlapped)
      ) {
        seen.clear();
        let stableSeen = 0;
        const before = generation();
        const visit = (key: string, value: string | undefined): void => {
          if (seen.has(key)) violation(`pass ${r.passes}: key ${JSON.stringify(key)} yielded twice`);
          seen.add(key);
          if (stable.has(key)) {
            stableSeen++;
            if (value !== undefined) check(key, value, `pass ${r.passes}`);
          } else if (!key.startsWith('filler/')) violation(`pass ${r.passes}: key ${JSON.stringify(key)} nobody inserted`);
          else if (value !== undefined && value !== '') violation(`pass ${r.passes}: filler ${key} = ${value.slice(0, 40)}`);
        };
        switch (r.passes % 3) {
          case 0:
            for (const [key, value] of map) visit(key, value);
            break;
          case 1:
            map.forEach((value, key) => visit(key, value));
            break;
          default:
            for (const key of map.keys()) visit(key, undefined);
        }
        if (stableSeen !== stable.size) violation(`pass ${r.passes}: ${stableSeen} of ${stable.size} stable keys`);
        if (generation() !== before) r.overlapped++;
        r.passes++;
      }
      break;
    }
  }
  return r;
}

finishWorker(run(workerData as StringTornData));
