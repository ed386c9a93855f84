/**
 * The examples in examples/ run as a user would run them (`node examples/...`,
 * importing the built package by self-reference) and must exit 0. Each
 * example checks its own result and sets a non-zero exit code when the check
 * fails; these tests also check the lines it prints.
 */
import test from 'ava';
import { join } from 'node:path';
import { assertBuilt, describeRun, repoRoot, runNode } from './support.js';

/** Generous: the machine has 2 cores and other test files run at the same time. */
const EXAMPLE_TIMEOUT_MS = 120_000;

const examples: [string, string, RegExp[]][] = [
  [
    'piscina pool sharing a live-updated config table',
    'examples/config-pool/main.mjs',
    [/100000 lookups in 2 pool threads, all routes found/, /after the live update, 100\/100 tasks saw backend 'canary'/],
  ],
  [
    'http server whose workers share a response cache with add() counters',
    'examples/http-cache/server.mjs',
    [/400 requests: \d+ cache hits, \d+ renders, 25 pages cached, 0 wrong bodies/, /per-path counters add up to 400/],
  ],
  [
    'rate limiter across workers',
    'examples/rate-limiter.mjs',
    [/3 workers, 15000 attempts: 2000 admitted, 13000 rejected/],
  ],
  ['npm start demo', 'examples/demo.mjs', [/flatshare demo/]],
];

for (const [title, file, expected] of examples) {
  test(`example: ${title} (${file})`, async (t) => {
    assertBuilt();
    const result = await runNode([join(repoRoot, file)], { cwd: repoRoot, timeoutMs: EXAMPLE_TIMEOUT_MS });
    t.is(result.code, 0, describeRun(file, result));
    for (const pattern of expected) t.regex(result.stdout, pattern, describeRun(file, result));
    t.log(result.stdout.trim().split('\n').slice(-3).join('\n'));
  });
}
