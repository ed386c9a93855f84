// Render worker for http-cache/server.mjs.
import { parentPort, workerData } from 'node:worker_threads';
import { SharedFlatMap } from 'flatshare';

const cache = SharedFlatMap.attach(workerData.cache);
const stats = SharedFlatMap.attach(workerData.stats);

function renderPage(path) {
  let rows = '';
  for (let i = 0; i < 50; i++) rows += `<li>${path} item ${i}</li>`; // stands in for a template engine
  return `<!doctype html><h1>${path}</h1><ul>${rows}</ul>`;
}

parentPort.on('message', ({ id, path }) => {
  // Another thread may have cached it since the main thread looked.
  let html = cache.get(path);
  if (html === undefined) {
    stats.add('renders', 1);
    html = cache.getOrSet(path, renderPage(path)); // one stored page even if two workers race
  } else {
    stats.add('hits', 1);
  }
  parentPort.postMessage({ id, html });
});
