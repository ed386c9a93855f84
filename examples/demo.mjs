// flatshare demo (`npm start`): one int32 -> int32 map in shared memory, read
// and written at the same time by several worker threads.
//
//   node examples/demo.mjs [workers]      (default: 2 workers)
//
// 1. The main thread creates the map and fills it: key k -> value k * 10.
// 2. Each worker attaches the map through `map.handle` and, for SHARED_SECONDS,
//    runs a mixed loop on it: ~95% get, ~4% set (key k -> k * 10 + workerId),
//    ~1% add(HITS_KEY, 1) on one shared counter. Every value it reads must
//    satisfy floor(v / 10) === k; a torn read would break that.
// 3. Each worker then copies the map into its own `Map` and runs the same loop
//    on the copy for LOCAL_SECONDS, the "one Map per worker" baseline.
// 4. The main thread prints what the workers saw and their throughput.
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { SharedFlatMap } from 'flatshare';

const ENTRIES = 100_000;
const HITS_KEY = -1;
const SHARED_SECONDS = 2;
const LOCAL_SECONDS = 1;
const WORKERS = Number(process.argv[2] ?? 2);
if (!Number.isInteger(WORKERS) || WORKERS < 1 || WORKERS > 9) {
  console.error(`usage: node examples/demo.mjs [workers 1-9]; got ${process.argv[2]}`);
  process.exit(2);
}

const map = new SharedFlatMap({ keys: 'int32', values: 'int32', capacity: ENTRIES + 1 });
for (let k = 0; k < ENTRIES; k++) map.set(k, k * 10);
map.set(HITS_KEY, 0);

// Start line: workers wait on control[0] so that they all start together.
const control = new Int32Array(new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT));
let readyCount = 0;

console.log(
  `flatshare demo: ${fmt(map.size)} int32 -> int32 entries in ${(map.byteLength / 2 ** 20).toFixed(1)} MiB ` +
    `of shared memory, ${WORKERS} workers (node ${process.version}, ${process.arch}, ${availableParallelism()} CPUs)`,
);
console.log(
  `each worker: ${SHARED_SECONDS} s of ~95% get / ~4% set / ~1% add on the shared map, ` +
    `then the same loop for ${LOCAL_SECONDS} s on its own Map copy\n`,
);

const results = await Promise.all(
  Array.from({ length: WORKERS }, (_, i) => {
    const worker = new Worker(new URL('./demo-worker.mjs', import.meta.url), {
      workerData: {
        map: map.handle, // a structured-cloneable handle: the buffer is shared, not copied
        control,
        id: i + 1,
        entries: ENTRIES,
        hitsKey: HITS_KEY,
        sharedSeconds: SHARED_SECONDS,
        localSeconds: LOCAL_SECONDS,
      },
    });
    return new Promise((resolve, reject) => {
      let result;
      worker.on('message', (message) => {
        if (message === 'ready') {
          if (++readyCount === WORKERS) {
            Atomics.store(control, 0, 1); // go
            Atomics.notify(control, 0);
          }
        } else {
          result = message;
        }
      });
      worker.on('error', reject);
      worker.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`worker ${i + 1} exited with ${code}`))));
    });
  }),
);

// ---- report -------------------------------------------------------------------

console.log('last entries each worker read from the shared map (value = key * 10 + id of the last writer, 0 = main):');
for (const r of results) {
  const sample = r.lastReads.map(([k, v]) => `${k}->${v} (${writer(v)})`).join(', ');
  console.log(`  worker ${r.id}: ${sample}`);
}

const totalAdds = results.reduce((sum, r) => sum + r.sharedAdds, 0);
const counter = map.get(HITS_KEY);
console.log(
  `\nshared counter map.get(${HITS_KEY}) = ${fmt(counter)}; add() calls by the workers: ` +
    `${results.map((r) => fmt(r.sharedAdds)).join(' + ')} = ${fmt(totalAdds)} ${counter === totalAdds ? '(equal: no lost update)' : '(MISMATCH)'}`,
);
const torn = results.reduce((sum, r) => sum + r.torn, 0);
const reads = results.reduce((sum, r) => sum + r.sharedGets, 0);
console.log(`consistency: ${fmt(reads)} gets, ${torn} values with floor(v / 10) !== key`);
let overwritten = 0; // iteration: weakly consistent, here with no writer left running
for (const [k, v] of map) if (k !== HITS_KEY && v % 10 !== 0) overwritten++;
const sets = results.map((r) => fmt(r.sharedSets)).join(' + ');
console.log(`set() calls by the workers: ${sets}; entries now holding a worker's value: ${fmt(overwritten)} of ${fmt(ENTRIES)}\n`);

console.log('throughput (operations per second; "shared / copy" = shared-map ops/s divided by Map-copy ops/s):');
console.log('  worker   shared map       own Map copy     shared / copy');
for (const r of results) {
  const shared = r.sharedOps / r.sharedSeconds;
  const local = r.localOps / r.localSeconds;
  console.log(`  ${String(r.id).padEnd(8)} ${rate(shared).padEnd(16)} ${rate(local).padEnd(16)} ${(shared / local).toFixed(2)}x`);
}
const sharedTotal = results.reduce((sum, r) => sum + r.sharedOps / r.sharedSeconds, 0);
const localTotal = results.reduce((sum, r) => sum + r.localOps / r.localSeconds, 0);
console.log(`  all      ${rate(sharedTotal).padEnd(16)} ${rate(localTotal).padEnd(16)} ${(sharedTotal / localTotal).toFixed(2)}x`);
console.log(
  `\nThe shared map is one copy that every worker sees at once (writes are visible immediately);\n` +
    `the Map copies cost ${WORKERS} x the memory and never see each other's writes. ` +
    `For measured numbers see docs/benchmarks.md.`,
);

if (counter !== totalAdds || torn !== 0) process.exitCode = 1;

function writer(v) {
  return v % 10 === 0 ? 'main' : `worker ${v % 10}`;
}
function fmt(n) {
  return n.toLocaleString('en-US');
}
function rate(perSecond) {
  return perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M/s` : `${(perSecond / 1e3).toFixed(1)} k/s`;
}
