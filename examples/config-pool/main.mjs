// A piscina worker pool that shares one config / lookup table, updated live
// by the main thread.
//
//   node examples/config-pool/main.mjs
//
// The main thread owns the table (route -> JSON config). Every pool worker
// attaches it once, from `workerData`, and answers tasks by looking routes up
// directly in shared memory: no copy per worker, no message per lookup.
// Midway the main thread changes a route's config; the next task in any
// worker sees the new config, because there is only one copy of it.
import { Piscina } from 'piscina';
import { SharedFlatMap } from 'flatshare';

const ROUTES = 10_000;
const TASKS = 200;
const LOOKUPS_PER_TASK = 1_000;

const routes = new SharedFlatMap({ keys: 'string', values: 'json', capacity: ROUTES });
for (let i = 0; i < ROUTES; i++) {
  routes.set(`/api/v1/item/${i}`, { backend: `pool-${i % 8}`, timeoutMs: 500, weight: 1 });
}

const pool = new Piscina({
  filename: new URL('./worker.mjs', import.meta.url).href,
  minThreads: 2,
  maxThreads: 2,
  workerData: { routes: routes.handle }, // a handle is structured-cloned; the memory is shared
});

// First half of the tasks: the original config.
const before = await Promise.all(
  Array.from({ length: TASKS / 2 }, (_, t) => pool.run({ first: t * 37, count: LOOKUPS_PER_TASK, routes: ROUTES })),
);

// Live update in the main thread: one write, seen by every worker at once.
routes.set('/api/v1/item/42', { backend: 'canary', timeoutMs: 250, weight: 5 });

const after = await Promise.all(
  Array.from({ length: TASKS / 2 }, () => pool.run({ probe: '/api/v1/item/42' })),
);
await pool.destroy();

const lookups = before.reduce((sum, r) => sum + r.found, 0);
const threads = new Set([...before, ...after].map((r) => r.threadId));
const canary = after.filter((r) => r.config?.backend === 'canary').length;
console.log(`${lookups} lookups in ${threads.size} pool threads, ${before.every((r) => r.found === LOOKUPS_PER_TASK) ? 'all' : 'NOT all'} routes found`);
console.log(`after the live update, ${canary}/${after.length} tasks saw backend 'canary'`);
console.log(`shared table: ${routes.size} routes in ${(routes.byteLength / 2 ** 20).toFixed(1)} MiB, one copy for all threads`);
if (canary !== after.length || lookups !== (TASKS / 2) * LOOKUPS_PER_TASK) process.exitCode = 1;
