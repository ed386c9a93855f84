/**
 * getOrSet race worker: in each round all racers meet at a barrier, then call
 * getOrSet(key, own value) on the same keys, and record what each call
 * returned in a shared results array.
 *
 * Phase "fresh": the keys were never in the map. Phase "revive": racer 0
 * deletes the keys of the first phase (between two barriers), so the race is
 * on tombstones or on keys that a migration dropped.
 */
import { workerData } from 'node:worker_threads';
import { SharedFlatMap, type SharedFlatMapHandle } from '../../../lib/index.js';
import { SeededPrng } from '../../helpers/prng.js';
import { Barrier, finishWorker } from '../support.js';
import { PHASES, offerIdOf, offeredValue, resultIndex } from './get-or-set.shared.js';

export interface GetOrSetWorkerData {
  handle: SharedFlatMapHandle;
  barrier: SharedArrayBuffer;
  racers: number;
  racer: number;
  seed: number;
  rounds: number;
  keysPerRound: number;
  float: boolean;
  /** One Int32 per (phase, racer, key), at resultIndex(): the offer id (offerIdOf) of the value getOrSet returned. */
  results: SharedArrayBuffer;
}

export interface GetOrSetWorkerResult {
  /** Keys for which this racer's own value is the one stored. */
  wins: number;
}

/** Key visiting orders; racers pick one per round so some collide head-on and some cross. */
const ORDERS = ['ascending', 'descending', 'shuffled'] as const;

function run(data: GetOrSetWorkerData): GetOrSetWorkerResult {
  const map = SharedFlatMap.attach<number, number>(data.handle);
  const barrier = new Barrier(data.barrier, data.racers);
  const prng = new SeededPrng(data.seed);
  const results = new Int32Array(data.results);
  const totalKeys = data.rounds * data.keysPerRound;
  let wins = 0;

  PHASES.forEach((phase, phaseIndex) => {
    const mine = offeredValue(phaseIndex, data.racer, data.racers, data.float);
    for (let round = 0; round < data.rounds; round++) {
      const keys = Array.from({ length: data.keysPerRound }, (_, i) => round * data.keysPerRound + i);
      if (phase === 'revive') {
        barrier.wait();
        if (data.racer === 0) for (const key of keys) map.delete(key);
      }
      order(keys, prng);
      barrier.wait();
      for (const key of keys) {
        const got = map.getOrSet(key, mine);
        if (got === mine) wins++;
        const at = resultIndex(phaseIndex, data.racer, key, data.racers, totalKeys);
        Atomics.store(results, at, offerIdOf(got, data.racers, data.float));
      }
    }
  });
  return { wins };
}

function order(keys: number[], prng: SeededPrng): void {
  switch (prng.pick(ORDERS)) {
    case 'ascending':
      return;
    case 'descending':
      keys.reverse();
      return;
    case 'shuffled':
      for (let i = keys.length - 1; i > 0; i--) {
        const j = prng.int(0, i + 1);
        [keys[i], keys[j]] = [keys[j] as number, keys[i] as number];
      }
  }
}

finishWorker(run(workerData as GetOrSetWorkerData));
