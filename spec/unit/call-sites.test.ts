/**
 * `get`'s copies of the int32 probe call (lib/wasm/call-sites.ts): each
 * int32 -> int32 map of a thread takes one of GET_CALL_SITES copies, round
 * robin, so that V8 keeps one inlined JS-to-wasm wrapper per copy. These tests
 * check that the copies exist, that every copy answers for its own map (a copy
 * that passed another map's fields would answer wrong values here), and that
 * only the maps that use the copies take one. The speed is measured by
 * `npm run bench:maps`, not here.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SharedFlatMap, hashers } from '../../lib/index.js';
import { GET_CALL_SITES, takeGetCallSite } from '../../lib/wasm/call-sites.js';
import { repoRoot } from '../package/support.js';

const siteOf = (map: SharedFlatMap<number, unknown> | SharedFlatMap<string, unknown>): number =>
  (map as unknown as { getSite: number }).getSite;

test('get holds GET_CALL_SITES copies of the probe call', (t) => {
  const source = readFileSync(join(repoRoot, 'lib', 'shared-flat-map.ts'), 'utf8');
  const start = source.indexOf('\n  get(key: K): V | undefined {');
  t.true(start > 0, 'get not found');
  const body = source.slice(start, source.indexOf('\n  }\n', start));
  t.is(body.match(/this\.probeI32\(/g)?.length, GET_CALL_SITES);
  // The copies are chosen by `site === 0`, `site === 1`, ... `site === GET_CALL_SITES - 2`, the last
  // copy taking the rest: each number once, so no site is unreachable.
  const tested = (body.match(/site === \d+/g) ?? []).map((m) => Number(m.slice('site === '.length)));
  t.deepEqual(tested, Array.from({ length: GET_CALL_SITES - 1 }, (_, i) => i));
});

test('int32 -> int32 maps take the call sites round robin, and each answers for itself through its own site', (t) => {
  const count = GET_CALL_SITES + 1;
  const made: Array<SharedFlatMap<number, number>> = [];
  for (let m = 0; m < count; m++) made.push(new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' }));
  // attach takes a site too: maps[count + m] is made[m] attached in this thread.
  const maps = [...made, ...made.map((map) => SharedFlatMap.attach<number, number>(map.handle))];
  const sites = maps.map(siteOf);
  for (let m = 1; m < maps.length; m++) {
    t.is(sites[m], ((sites[m - 1] as number) + 1) % GET_CALL_SITES, `map ${m} takes the next site`);
  }
  t.is(new Set(sites).size, GET_CALL_SITES);
  const KEYS = 2000;
  made.forEach((map, m) => {
    for (let k = 0; k < KEYS; k++) map.set(k * 7 - 5000, k * 1000 + m);
  });
  // The first get of a map that has not yet read its table (the attached ones) answers RETRY and
  // learns the table; do that before counting.
  for (const map of maps) map.get(0);
  // A copy that passed a wrong generation or table would answer RETRY, and the JS retry path would
  // still find the right value: count retries, so such a copy fails here too.
  let retries = 0;
  for (const map of maps) {
    const self = map as unknown as { getInt32Retry: (k: number, hash: number) => number | undefined };
    const retry = self.getInt32Retry.bind(map);
    self.getInt32Retry = (k, hash) => {
      retries++;
      return retry(k, hash);
    };
  }
  // Read the maps interleaved, so every site is warm and optimized with its own targets.
  for (let round = 0; round < 20; round++) {
    for (let k = 0; k < KEYS; k++) {
      for (let m = 0; m < maps.length; m++) {
        const map = maps[m] as SharedFlatMap<number, number>;
        const expected = k * 1000 + (m % count);
        const got = map.get(k * 7 - 5000);
        if (got !== expected) {
          t.fail(`map ${m} (site ${sites[m]}) key ${k * 7 - 5000}: ${got}, expected ${expected}`);
          return;
        }
        if (map.get(k * 7 - 4999) !== undefined) {
          t.fail(`map ${m} (site ${sites[m]}) answers a value for absent key ${k * 7 - 4999}`);
          return;
        }
      }
    }
  }
  // No writer runs during the reads, so no read of a current table has a reason to retry.
  t.is(retries, 0, 'reads through the call sites went to the retry path');
});

test('maps whose get does not call the int32 probe take no call site', (t) => {
  const before = takeGetCallSite();
  const others = [
    new SharedFlatMap<string, number>({ keys: 'string', values: 'int32' }),
    new SharedFlatMap<number, number>({ keys: 'int32', values: 'float64' }),
    new SharedFlatMap<number, string>({ keys: 'int32', values: 'string' }),
    // int32 -> int32 with a hasher other than the inlined murmur3 mix: get calls the hasher and the
    // probe through getOther, not through the sites.
    new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', hasher: hashers.fnv1a() }),
  ];
  // attach of such maps takes none either.
  const attached = [
    SharedFlatMap.attach<string, number>((others[0] as SharedFlatMap<string, number>).handle),
    SharedFlatMap.attach<number, number>((others[3] as SharedFlatMap<number, number>).handle),
  ];
  for (const map of attached) t.is(siteOf(map as SharedFlatMap<number, unknown>), 0);
  for (const map of others) t.is(siteOf(map as SharedFlatMap<number, unknown>), 0);
  t.is(takeGetCallSite(), (before + 1) % GET_CALL_SITES, 'the counter moved');
});
