// Pool worker for config-pool/main.mjs: attaches the shared table once per thread.
import { threadId, workerData } from 'node:worker_threads';
import { SharedFlatMap } from 'flatshare';

const routes = SharedFlatMap.attach(workerData.routes);

export default function handle(task) {
  if (task.probe !== undefined) return { threadId, config: routes.get(task.probe) };
  let found = 0;
  for (let i = 0; i < task.count; i++) {
    const config = routes.get(`/api/v1/item/${(task.first + i) % task.routes}`);
    if (config !== undefined && config.timeoutMs > 0) found++;
  }
  return { threadId, found };
}
