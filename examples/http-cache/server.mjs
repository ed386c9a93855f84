// A node:http server whose worker threads share one response cache, with hit
// counters kept through add().
//
//   node examples/http-cache/server.mjs          self-test: serves 400 requests on a free port, then exits
//   node examples/http-cache/server.mjs --serve  keeps serving on PORT (default 3000)
//
// The main thread runs the HTTP server. A response already in the shared cache
// is answered straight from shared memory. A miss goes to one of the render
// workers, which renders the page, stores it with getOrSet (so concurrent
// misses of one path store one page) and counts the render. Every thread
// counts into the same `stats` map with add(), which is atomic across threads.
import http from 'node:http';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { SharedFlatMap } from 'flatshare';

const RENDER_WORKERS = 2;
const SELF_TEST_REQUESTS = 400;
const SELF_TEST_PATHS = 25;

const cache = new SharedFlatMap({ keys: 'string', values: 'string', capacity: 10_000 }); // path -> html
const stats = new SharedFlatMap({ keys: 'string', values: 'int32' }); // counter name -> count

const workers = Array.from(
  { length: RENDER_WORKERS },
  () => new Worker(new URL('./render-worker.mjs', import.meta.url), { workerData: { cache: cache.handle, stats: stats.handle } }),
);
const pending = new Map();
let nextRequest = 0;
for (const worker of workers) {
  worker.on('message', ({ id, html }) => {
    pending.get(id)?.(html);
    pending.delete(id);
  });
}

function render(path) {
  const id = nextRequest++;
  const worker = workers[id % workers.length];
  return new Promise((resolve) => {
    pending.set(id, resolve);
    worker.postMessage({ id, path });
  });
}

const server = http.createServer(async (req, res) => {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  let html = cache.get(path); // straight from shared memory
  if (html !== undefined) stats.add('hits', 1);
  else html = await render(path);
  stats.add(`path:${path}`, 1);
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(html);
});

if (process.argv.includes('--serve')) {
  server.listen(Number(process.env.PORT ?? 3000), () => console.log(`listening on ${server.address().port}`));
} else {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${server.address().port}`;
  let wrong = 0;
  for (let batch = 0; batch < SELF_TEST_REQUESTS; batch += 20) {
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const path = `/page/${(batch + i * 7) % SELF_TEST_PATHS}`;
        const body = await (await fetch(base + path)).text();
        if (!body.includes(`<h1>${path}</h1>`)) wrong++;
      }),
    );
  }
  server.close();
  await Promise.all(workers.map((w) => w.terminate()));
  const hits = stats.get('hits') ?? 0;
  const renders = stats.get('renders') ?? 0;
  let served = 0;
  for (const [name, count] of stats) if (name.startsWith('path:')) served += count;
  console.log(`${SELF_TEST_REQUESTS} requests: ${hits} cache hits, ${renders} renders, ${cache.size} pages cached, ${wrong} wrong bodies`);
  console.log(`per-path counters add up to ${served}`);
  if (wrong !== 0 || served !== SELF_TEST_REQUESTS || cache.size !== SELF_TEST_PATHS) process.exitCode = 1;
}
