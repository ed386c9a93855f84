/**
 * A writer that waits out a migration (spec/unit/growth-at-limit.test.ts,
 * "a writer waiting out a migration is idle"). It claims its writer record
 * with one write, then leaves a stale announcement in it (ACTIVE_GEN =
 * generation + 1, what a lock that lost to a migration leaves behind), tells
 * the test, and once the test has put the epoch into ALLOCATING it calls set(),
 * which waits in enterGeneration until the test restores the epoch.
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../../../lib/index.js';
import { W_ACTIVE_GEN } from '../../../lib/layout.js';
import { finishWorker } from '../../stress/support.js';

export interface IdleWaitData {
  handle: SharedFlatMapHandle;
  /** [0]: 1 when the stale announcement is written (worker), 2 when the epoch is ALLOCATING (test). */
  steps: SharedArrayBuffer;
}

export interface IdleWaitResult {
  record: number;
  value: number | undefined;
}

/** How long the worker waits for the test's step, in ms (a hang is a test failure, not a timeout). */
const STEP_WAIT_MS = 20_000;

function run(data: IdleWaitData): IdleWaitResult {
  const map = SharedFlatMap.attach<number, number>(data.handle, { waitTimeoutMs: STEP_WAIT_MS });
  map.set(1, 1); // claims this thread's writer record
  const internals = SharedFlatMap.unsafeExposeInternals(map as SharedFlatMap<unknown, unknown>);
  const steps = new Int32Array(data.steps);
  Atomics.store(internals.words, internals.writerRecord + W_ACTIVE_GEN, internals.gen + 1);
  Atomics.store(steps, 0, 1);
  Atomics.notify(steps, 0);
  Atomics.wait(steps, 0, 1, STEP_WAIT_MS);
  map.set(2, 2); // waits in enterGeneration until the epoch is STABLE again
  return { record: internals.writerRecord, value: map.get(2) };
}

finishWorker(run(workerData as IdleWaitData));
