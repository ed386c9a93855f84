// Worker of examples/demo.mjs: attaches the shared map, runs the mixed loop on
// it, then runs the same loop on a private Map copy, and posts its counts.
//
// The loop is written twice, once per map type, so that each copy stays
// monomorphic and neither side pays for the other's shapes in V8.
import { parentPort, workerData } from 'node:worker_threads';
import { SharedFlatMap } from 'flatshare';

const { id, entries, hitsKey, sharedSeconds, localSeconds, control } = workerData;
const map = SharedFlatMap.attach(workerData.map);

/** Operation mix, out of 1024: add below ADD_BELOW, set below SET_BELOW, get otherwise. */
const ADD_BELOW = 10; // ~1%
const SET_BELOW = 51; // ~4%
/** How many ops run between two clock reads. */
const CHECK_EVERY = 4096;
/** Entries of the "last read" sample. */
const SAMPLE = 4;

parentPort.postMessage('ready');
Atomics.wait(control, 0, 0); // until main says go

const shared = runShared(map, sharedSeconds, id * 0x9e3779b1);
// The baseline: this worker's own copy of the whole map (`new Map(iterable)`
// works because a SharedFlatMap iterates over [key, value] pairs).
const copy = new Map(map);
const local = runLocal(copy, localSeconds, id * 0x9e3779b1);
map.releaseThread(); // this thread will not write again

parentPort.postMessage({
  id,
  sharedOps: shared.ops,
  sharedSeconds: shared.seconds,
  sharedGets: shared.gets,
  sharedAdds: shared.adds,
  sharedSets: shared.sets,
  torn: shared.torn,
  lastReads: shared.lastReads,
  localOps: local.ops,
  localSeconds: local.seconds,
  checksum: shared.checksum + local.checksum,
});

function runShared(m, seconds, seed) {
  let x = seed | 0 || 1;
  let ops = 0, gets = 0, sets = 0, adds = 0, torn = 0, checksum = 0, last = 0;
  const lastKeys = new Int32Array(SAMPLE);
  const lastValues = new Int32Array(SAMPLE);
  const start = performance.now();
  const end = start + seconds * 1000;
  for (;;) {
    for (let i = 0; i < CHECK_EVERY; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5; // xorshift32
      const key = (x >>> 0) % entries;
      const op = (x >>> 7) & 1023;
      if (op < ADD_BELOW) {
        m.add(hitsKey, 1);
        adds++;
      } else if (op < SET_BELOW) {
        m.set(key, key * 10 + id);
        sets++;
      } else {
        const v = m.get(key);
        if (((v / 10) | 0) !== key) torn++;
        checksum = (checksum + v) | 0;
        lastKeys[last] = key;
        lastValues[last] = v;
        last = (last + 1) % SAMPLE;
        gets++;
      }
    }
    ops += CHECK_EVERY;
    const now = performance.now();
    if (now >= end) return { ops, gets, sets, adds, torn, checksum, seconds: (now - start) / 1000, lastReads: sample(lastKeys, lastValues, last) };
  }
}

function runLocal(m, seconds, seed) {
  let x = seed | 0 || 1;
  let ops = 0, gets = 0, sets = 0, adds = 0, torn = 0, checksum = 0, last = 0;
  const lastKeys = new Int32Array(SAMPLE);
  const lastValues = new Int32Array(SAMPLE);
  const start = performance.now();
  const end = start + seconds * 1000;
  for (;;) {
    for (let i = 0; i < CHECK_EVERY; i++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5; // xorshift32
      const key = (x >>> 0) % entries;
      const op = (x >>> 7) & 1023;
      if (op < ADD_BELOW) {
        m.set(hitsKey, (m.get(hitsKey) ?? 0) + 1);
        adds++;
      } else if (op < SET_BELOW) {
        m.set(key, key * 10 + id);
        sets++;
      } else {
        const v = m.get(key);
        if (((v / 10) | 0) !== key) torn++;
        checksum = (checksum + v) | 0;
        lastKeys[last] = key;
        lastValues[last] = v;
        last = (last + 1) % SAMPLE;
        gets++;
      }
    }
    ops += CHECK_EVERY;
    const now = performance.now();
    if (now >= end) return { ops, gets, sets, adds, torn, checksum, seconds: (now - start) / 1000, lastReads: sample(lastKeys, lastValues, last) };
  }
}

/** The ring of the last SAMPLE reads, oldest first. */
function sample(keys, values, next) {
  const out = [];
  for (let i = 0; i < SAMPLE; i++) out.push([keys[(next + i) % SAMPLE], values[(next + i) % SAMPLE]]);
  return out;
}
