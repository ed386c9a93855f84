// A fixed-window rate limiter shared by several workers.
//
//   node examples/rate-limiter.mjs
//
// Each client may make LIMIT requests per window, counted across all workers.
// A worker admits a request when add(`${client}:${window}`, 1) returns a count
// <= LIMIT. add() is one atomic read-modify-write on shared memory, so the
// workers never admit more than LIMIT per client and window together, without
// a lock or a round trip to the main thread.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { once } from 'node:events';
import { SharedFlatMap } from 'flatshare';

const LIMIT = 100;
const CLIENTS = 20;
const WORKERS = 3;
const ATTEMPTS_PER_WORKER = 5_000;
const WINDOW = 1; // a fixed window id keeps the self-test deterministic; use Math.floor(Date.now() / windowMs)

if (isMainThread) {
  const counters = new SharedFlatMap({ keys: 'string', values: 'int32', capacity: CLIENTS * 2 });
  const workers = Array.from(
    { length: WORKERS },
    (_, id) => new Worker(new URL(import.meta.url), { workerData: { counters: counters.handle, id } }),
  );
  const results = await Promise.all(workers.map(async (w) => (await once(w, 'message'))[0]));
  const admitted = results.reduce((sum, r) => sum + r.admitted, 0);
  const rejected = results.reduce((sum, r) => sum + r.rejected, 0);
  console.log(`${WORKERS} workers, ${admitted + rejected} attempts: ${admitted} admitted, ${rejected} rejected`);
  console.log(`limit ${LIMIT} x ${CLIENTS} clients = ${LIMIT * CLIENTS} admitted at most; per worker: ${results.map((r) => r.admitted).join(', ')}`);
  if (admitted !== LIMIT * CLIENTS) process.exitCode = 1;
} else {
  const counters = SharedFlatMap.attach(workerData.counters);
  let admitted = 0;
  let rejected = 0;
  for (let i = 0; i < ATTEMPTS_PER_WORKER; i++) {
    const client = (i * 7 + workerData.id) % CLIENTS;
    if (counters.add(`client-${client}:${WINDOW}`, 1) <= LIMIT) admitted++;
    else rejected++;
  }
  counters.releaseThread();
  parentPort.postMessage({ admitted, rejected });
}
