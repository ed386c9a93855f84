/**
 * The copies of the hot wasm calls (lib/wasm/call-sites.ts) of the bucket
 * paths (the probes of read-bucket.wat, the writes of write-bucket.wat): for
 * int32 keys `get`'s probe and `set`'s, `delete`'s and `add`'s writes; for string keys
 * the probes of `getByString`, the puts of `putStr` and the delete of
 * `tryDeleteStr`. Each map of a family in a thread takes one of CALL_SITES
 * copies, round robin, so that V8
 * keeps one inlined JS-to-wasm wrapper per copy. These tests check that the
 * copies exist, that every copy answers for and writes to its own map (a copy
 * that passed another map's fields would answer wrong values, or hand back to
 * the JS path, here), and that only the maps that use the copies take one. The speed is measured by
 * `npm run bench:maps`, not here.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SharedFlatMap, hashers } from '../../lib/index.js';
import { CALL_SITES, takeCallSite } from '../../lib/wasm/call-sites.js';
import { READ_RETRY, STATUS_RETRY } from '../../lib/wasm/bucket-read-path.js';
import { FIND_RETRY } from '../../lib/wasm/bucket-read-path.js';
import { repoRoot } from '../package/support.js';

const siteOf = (map: SharedFlatMap<number, unknown> | SharedFlatMap<string, unknown>): number =>
  (map as unknown as { callSite: number }).callSite;

/** Each method with copies of wasm calls, and the calls it copies (each CALL_SITES times). */
const COPIED_CALLS: Array<[method: string, calls: RegExp[]]> = [
  ['\n  get(key: K): V | undefined {', [/this\.probeI32\(/g]],
  ['\n  private getFloat64(k: number, hash: number): number | undefined {', [/wasm\.getF64\(/g]],
  ['\n  set(key: K, value: V): this {', [/w\.putI32\(/g]],
  ['\n  delete(key: K): boolean {', [/w\.deleteI32\(/g]],
  ['\n  add(key: K, delta: number): number {', [/w\.addI32\(/g]],
  ['\n  private getByString(key: K): V | undefined {', [/ws\.findStr\(/g, /ws\.getStrF64\(/g, /ws\.getStrI32\(/g]],
  ['\n  private putStr(hash: number, header: number, v: number, keyRef: number): number {', [/put\.putStrF64\(/g, /put\.putStrI32\(/g]],
  ['\n  private tryDeleteStr(key: K): number {', [/put\.deleteStr\(/g]],
];

test('the hot methods hold CALL_SITES copies of each of their wasm calls', (t) => {
  const source = readFileSync(join(repoRoot, 'lib', 'shared-flat-map.ts'), 'utf8');
  for (const [method, calls] of COPIED_CALLS) {
    const start = source.indexOf(method);
    t.true(start > 0, `${method.trim()} not found`);
    const body = source.slice(start, source.indexOf('\n  }\n', start));
    for (const call of calls) {
      t.is(body.match(call)?.length, CALL_SITES, `${method.trim()}: copies of ${call.source}`);
      // The copies are the same call, argument for argument: the text from the call to its ')'.
      const copies = [...body.matchAll(new RegExp(`${call.source}[^)]*\\)`, 'g'))].map((m) => m[0]);
      t.is(new Set(copies).size, 1, `${method.trim()}: the copies differ: ${copies.join(' | ')}`);
    }
    // Each call's copies are chosen by `site === 0`, `site === 1`, ... `site === CALL_SITES - 2`, the
    // last copy taking the rest: each number once per call, so no site is unreachable.
    const tested = (body.match(/site === \d+/g) ?? []).map((m) => Number(m.slice('site === '.length)));
    const once = Array.from({ length: CALL_SITES - 1 }, (_, i) => i);
    t.deepEqual(tested, calls.flatMap(() => once), method.trim());
  }
});

test('int32 -> int32 maps take the call sites round robin, and each answers for itself through its own site', (t) => {
  const count = CALL_SITES + 1;
  const made: Array<SharedFlatMap<number, number>> = [];
  for (let m = 0; m < count; m++) made.push(new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' }));
  // attach takes a site too: maps[count + m] is made[m] attached in this thread.
  const maps = [...made, ...made.map((map) => SharedFlatMap.attach<number, number>(map.handle))];
  const sites = maps.map(siteOf);
  for (let m = 1; m < maps.length; m++) {
    t.is(sites[m], ((sites[m - 1] as number) + 1) % CALL_SITES, `map ${m} takes the next site`);
  }
  t.is(new Set(sites).size, CALL_SITES);
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

test('set, add and delete through every call site write the right map, in wasm', (t) => {
  const count = CALL_SITES + 1;
  const KEYS = 500;
  const made: Array<SharedFlatMap<number, number>> = [];
  for (let m = 0; m < count; m++) made.push(new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', capacity: 4 * KEYS }));
  const maps = [...made, ...made.map((map) => SharedFlatMap.attach<number, number>(map.handle))];
  t.is(new Set(maps.map(siteOf)).size, CALL_SITES);
  // Each instance's first write claims its writer record and learns the table in JS; do that first.
  maps.forEach((map, i) => map.set(-1 - i, i));
  // A copy that passed another map's table or a wrong generation would hand back to the JS path,
  // which would still write correctly: count hand-backs, so such a copy fails here too.
  let slow = 0;
  for (const map of maps) {
    const self = map as unknown as Record<'setSlow' | 'deleteSlow' | 'addSlow', (...args: unknown[]) => unknown>;
    for (const name of ['setSlow', 'deleteSlow', 'addSlow'] as const) {
      const original = self[name].bind(map);
      self[name] = (...args: unknown[]) => {
        slow++;
        return original(...args);
      };
    }
  }
  // Instance i (new or attached) writes keys i * KEYS .. (i + 1) * KEYS - 1 of its map, interleaved
  // with every other instance, so every site sees its own target in turn.
  for (let k = 0; k < KEYS; k++) {
    maps.forEach((map, i) => map.set(i * KEYS + k, k));
  }
  for (let k = 0; k < KEYS; k++) {
    maps.forEach((map, i) => {
      t.is(map.add(i * KEYS + k, 1000), k + 1000);
    });
  }
  for (let k = 0; k < KEYS; k += 2) {
    maps.forEach((map, i) => {
      if (!map.delete(i * KEYS + k)) t.fail(`instance ${i} (site ${siteOf(map)}): delete of ${i * KEYS + k} found nothing`);
    });
  }
  t.is(slow, 0, 'writes through the call sites handed back to the JS path');
  // Each map holds what its own two instances (new m and attached count + m) wrote, and nothing else.
  made.forEach((map, m) => {
    t.is(map.size, 2 + KEYS, `map ${m}: two first writes and half of each instance's ${KEYS} keys`);
    for (const i of [m, count + m]) {
      for (let k = 0; k < KEYS; k++) {
        const got = map.get(i * KEYS + k);
        if (got !== (k % 2 === 0 ? undefined : k + 1000)) {
          t.fail(`map ${m}, instance ${i}: key ${i * KEYS + k} holds ${got}`);
          return;
        }
      }
    }
  });
});

test('maps whose calls go through no copy take no call site', (t) => {
  const before = takeCallSite('int32');
  const beforeString = takeCallSite('string');
  const others = [
    new SharedFlatMap<string, number>({ keys: 'string', values: 'int32', hasher: hashers.fnv1a() }),
    new SharedFlatMap<number, string>({ keys: 'int32', values: 'string' }),
    new SharedFlatMap<number, unknown>({ keys: 'int32', values: 'json' }),
  ];
  // attach of such maps takes none either.
  const attached = [
    SharedFlatMap.attach<string, number>((others[0] as SharedFlatMap<string, number>).handle),
    SharedFlatMap.attach<number, string>((others[1] as SharedFlatMap<number, string>).handle),
  ];
  for (const map of [...others, ...attached]) t.is(siteOf(map as SharedFlatMap<number, unknown>), 0);
  t.is(takeCallSite('int32'), (before + 1) % CALL_SITES, 'the int32 counter moved only for the call above');
  t.is(takeCallSite('string'), (beforeString + 1) % CALL_SITES, 'the string counter moved only for the call above');
});

test('int32 -> float64 maps and int32 maps with another hasher take a site: their writes go through the copies', (t) => {
  const before = takeCallSite('int32');
  const maps = [
    // delete calls deleteI32 through the copies (set calls putF64, get the float64 probe).
    new SharedFlatMap<number, number>({ keys: 'int32', values: 'float64' }),
    // set, delete and add call the int32 writes through the copies; get goes through getOther.
    new SharedFlatMap<number, number>({ keys: 'int32', values: 'int32', hasher: hashers.fnv1a() }),
  ];
  maps.push(SharedFlatMap.attach<number, number>((maps[1] as SharedFlatMap<number, number>).handle));
  t.deepEqual(
    maps.map(siteOf),
    [1, 2, 3].map((i) => (before + i) % CALL_SITES),
  );
  // Through their sites they write and delete their own entries.
  const [float, fnv, fnvAttached] = maps as [SharedFlatMap<number, number>, SharedFlatMap<number, number>, SharedFlatMap<number, number>];
  for (let k = 0; k < 100; k++) {
    float.set(k, k + 0.5);
    fnv.set(k, k);
    fnvAttached.add(k, 1);
  }
  for (let k = 0; k < 100; k += 2) {
    t.true(float.delete(k));
    t.true(fnvAttached.delete(k));
  }
  for (let k = 0; k < 100; k++) {
    t.is(float.get(k), k % 2 === 0 ? undefined : k + 0.5);
    t.is(fnv.get(k), k % 2 === 0 ? undefined : k + 1);
  }
});

interface StringProbeCounter {
  retries: number;
  /** Calls of each string probe, by export name. */
  calls: Record<string, number>;
}

/**
 * Replace the read path of `map` (one read-bucket.wat instance holds the int32 and the string
 * probes) with one that counts the calls of its string probes and their RETRY answers.
 */
function countStringRetries(map: SharedFlatMap<string, unknown>, counter: StringProbeCounter): void {
  const self = map as unknown as { wasm: Record<string, (...args: number[]) => number> };
  const original = self.wasm;
  const counted: Record<string, (...args: number[]) => number> = { ...original };
  const retryOf: Record<string, number> = { findStr: FIND_RETRY, getStrI32: READ_RETRY, getStrF64: STATUS_RETRY };
  for (const [name, retry] of Object.entries(retryOf)) {
    const probe = original[name] as (...args: number[]) => number;
    counted[name] = (...args: number[]) => {
      const r = probe(...args);
      counter.calls[name] = (counter.calls[name] ?? 0) + 1;
      if (r === retry) counter.retries++;
      return r;
    };
  }
  self.wasm = counted;
}

test('string-key maps take the string call sites round robin, and read, write and delete through their own', (t) => {
  const intBefore = takeCallSite('int32');
  const count = CALL_SITES + 1;
  const KEYS = 400;
  const key = (m: number, k: number): string => `m${m}-key-${k}`.padEnd(16, '.');
  // One value kind per map, in turn: the three probes (getStrI32, getStrF64, findStr) and both puts.
  const kinds = ['int32', 'float64', 'string'] as const;
  const made = Array.from(
    { length: count },
    (_, m) => new SharedFlatMap<string, number | string>({ keys: 'string', values: kinds[m % kinds.length] as 'int32', capacity: 4 * KEYS }),
  );
  const maps = [...made, ...made.map((map) => SharedFlatMap.attach<string, number | string>(map.handle))];
  const sites = maps.map((map) => siteOf(map as SharedFlatMap<string, unknown>));
  for (let m = 1; m < maps.length; m++) {
    t.is(sites[m], ((sites[m - 1] as number) + 1) % CALL_SITES, `string map ${m} takes the next site`);
  }
  t.is(takeCallSite('int32'), (intBefore + 1) % CALL_SITES, 'string maps take no int32 site');
  const valueOf = (m: number, k: number): number | string =>
    m % kinds.length === 0 ? k * 10 + m : m % kinds.length === 1 ? k + m / 8 : `v${k}-${m}`;
  // Each instance's first write claims its writer record and learns the table in JS; do that first.
  maps.forEach((map, i) => map.set(`first-${i}`, valueOf(i % count, 0)));
  const counter: StringProbeCounter = { retries: 0, calls: {} };
  let slow = 0;
  for (const map of maps) {
    countStringRetries(map as SharedFlatMap<string, unknown>, counter);
    const self = map as unknown as Record<'setSlow' | 'deleteSlow', (...args: unknown[]) => unknown>;
    for (const name of ['setSlow', 'deleteSlow'] as const) {
      const original = self[name].bind(map);
      self[name] = (...args: unknown[]) => {
        slow++;
        return original(...args);
      };
    }
  }
  // Instance i (new or attached) of map m writes its own keys, interleaved with every other instance.
  for (let k = 0; k < KEYS; k++) maps.forEach((map, i) => map.set(key(i, k), valueOf(i % count, k)));
  for (let k = 0; k < KEYS; k += 2) {
    maps.forEach((map, i) => {
      if (!map.delete(key(i, k))) t.fail(`instance ${i} (site ${sites[i]}): delete of ${key(i, k)} found nothing`);
    });
  }
  // string values go through the JS set (no wasm put takes arena values): only the other kinds count.
  const jsSets = maps.filter((_, i) => (i % count) % kinds.length === 2).length * KEYS;
  t.is(slow, jsSets, 'writes of int32 and float64 values, and deletes, handed back to the JS path');
  for (let round = 0; round < 5; round++) {
    for (let k = 0; k < KEYS; k++) {
      for (let i = 0; i < maps.length; i++) {
        const map = maps[i] as SharedFlatMap<string, number | string>;
        const got = map.get(key(i, k));
        const expected = k % 2 === 0 ? undefined : valueOf(i % count, k);
        if (got !== expected) {
          t.fail(`instance ${i} (site ${sites[i]}) key ${key(i, k)}: ${String(got)}, expected ${String(expected)}`);
          return;
        }
        // The other instance of the same map wrote this one: it sees it, as every instance does.
        const twin = (i + count) % maps.length;
        if (map.get(key(twin, k)) !== expected) {
          t.fail(`instance ${i} does not see ${key(twin, k)} written by instance ${twin} of its map`);
          return;
        }
      }
    }
  }
  t.is(counter.retries, 0, 'reads through the string call sites answered RETRY');
  // Every get above went through its kind's probe (the 5 rounds read two keys per instance and key).
  const instancesOf = (kind: number): number => maps.filter((_, i) => (i % count) % kinds.length === kind).length;
  const probeOf = ['getStrI32', 'getStrF64', 'findStr'];
  for (const [kind, name] of probeOf.entries()) {
    t.true((counter.calls[name] ?? 0) >= instancesOf(kind) * KEYS * 2 * 5, `${name}: ${counter.calls[name] ?? 0} calls`);
  }
  made.forEach((map, m) => t.is(map.size, 2 + KEYS, `map ${m}: two first writes and half of each instance's ${KEYS} keys`));
});

test('int32 -> float64 maps read (getF64) through every call site, and write through set (putF64, one site)', (t) => {
  const count = CALL_SITES + 1;
  const KEYS = 500;
  const made = Array.from({ length: count }, () => new SharedFlatMap<number, number>({ keys: 'int32', values: 'float64', capacity: 4 * KEYS }));
  const maps = [...made, ...made.map((map) => SharedFlatMap.attach<number, number>(map.handle))];
  t.is(new Set(maps.map(siteOf)).size, CALL_SITES);
  maps.forEach((map, i) => map.set(-1 - i, i + 0.25)); // claims the writer record, learns the table
  let slow = 0;
  let retries = 0;
  for (const map of maps) {
    const self = map as unknown as { setSlow: (...args: unknown[]) => unknown; wasm: Record<string, (...args: number[]) => number> };
    const setSlow = self.setSlow.bind(map);
    self.setSlow = (...args: unknown[]) => {
      slow++;
      return setSlow(...args);
    };
    const getF64 = self.wasm.getF64 as (...args: number[]) => number;
    self.wasm = {
      ...self.wasm,
      getF64: (...args: number[]) => {
        const status = getF64(...args);
        if (status === STATUS_RETRY) retries++;
        return status;
      },
    };
  }
  for (let k = 0; k < KEYS; k++) maps.forEach((map, i) => map.set(i * KEYS + k, k + i / 16));
  t.is(slow, 0, 'float64 sets through the call sites handed back to the JS path');
  for (let round = 0; round < 5; round++) {
    for (let k = 0; k < KEYS; k++) {
      for (let i = 0; i < maps.length; i++) {
        const map = maps[i] as SharedFlatMap<number, number>;
        // Its own key, and the key the other instance of the same map wrote.
        const twin = (i + count) % maps.length;
        if (map.get(i * KEYS + k) !== k + i / 16 || map.get(twin * KEYS + k) !== k + twin / 16) {
          t.fail(`instance ${i} (site ${siteOf(map)}), key ${i * KEYS + k} or ${twin * KEYS + k}: wrong value`);
          return;
        }
        if (map.get(-1000 - k) !== undefined) {
          t.fail(`instance ${i} answers a value for absent key ${-1000 - k}`);
          return;
        }
      }
    }
  }
  t.is(retries, 0, 'float64 reads through the call sites answered RETRY');
});
