/**
 * The set of WebAssembly modules lib/ ships (lib/wasm/), as a whole:
 *
 * - The committed lib/wasm/*.wasm.ts are exactly one per .wat
 *   (read-bucket.wat, write-bucket.wat) plus one per DERIVED entry of
 *   scripts/build-wasm.mjs (read-bucket-tso), and each is what the script
 *   assembles from its .wat: no module is missing or stale, and no module
 *   of a deleted .wat (layout 5's read-int32, read-string, write-int32) is
 *   left behind. (Each module's own test checks its bytes too:
 *   spec/unit/bucket-read-path.test.ts, bucket-write-path.test.ts.)
 * - Every module imports only the map's memory. The bucket read module's
 *   exports and that it never stores are checked in bucket-read-path.test.ts;
 *   here the bucket write module's: it exports the write path and never grows,
 *   fills or copies the memory, nor waits or notifies (a wait is the JS
 *   path's: every wait is a SLOW answer).
 */
import test from 'ava';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bucketReadModule } from '../../lib/wasm/bucket-read-path.js';
import { bucketWriteModule } from '../../lib/wasm/bucket-write-path.js';
import { repoRoot } from '../package/support.js';
import { MEMORY_IMPORT, assertAssembledFromWat, moduleInterface, readWat, watCode } from '../helpers/wasm.js';

const WASM_DIR = join(repoRoot, 'lib', 'wasm');

async function derivedModules(): Promise<Record<string, { from: string }>> {
  const script = pathToFileURL(join(repoRoot, 'scripts', 'build-wasm.mjs')).href;
  return ((await import(script)) as { DERIVED: Record<string, { from: string }> }).DERIVED;
}

test('every committed .wasm.ts is assembled from a .wat or a DERIVED entry, and every one of those has its .wasm.ts', async (t) => {
  const files = readdirSync(WASM_DIR);
  const wats = files.filter((f) => f.endsWith('.wat')).map((f) => f.slice(0, -'.wat'.length));
  const derived = await derivedModules();
  for (const [name, { from }] of Object.entries(derived)) t.true(wats.includes(from), `DERIVED ${name}: its source ${from}.wat exists`);
  const expected = [...wats, ...Object.keys(derived)].sort();
  const committed = files.filter((f) => f.endsWith('.wasm.ts')).map((f) => f.slice(0, -'.wasm.ts'.length)).sort();
  t.deepEqual(committed, expected, 'lib/wasm/*.wasm.ts: one per .wat and per DERIVED entry, no other');
  t.deepEqual(expected, ['read-bucket', 'read-bucket-tso', 'write-bucket'], 'the modules of layout 6');
  for (const name of committed) {
    const { WASM_BASE64 } = (await import(new URL(`../../lib/wasm/${name}.wasm.js`, import.meta.url).href)) as { WASM_BASE64: string };
    await assertAssembledFromWat(t, name, WASM_BASE64);
  }
});

test('every module imports only the memory', (t) => {
  for (const module of [bucketReadModule('tso'), bucketReadModule('strict'), bucketWriteModule()]) {
    t.deepEqual(moduleInterface(module).imports, MEMORY_IMPORT);
  }
});

test('the bucket write module exports the write path and never grows, fills or copies the memory, nor waits or notifies', (t) => {
  t.deepEqual(moduleInterface(bucketWriteModule()).exports.sort(), [
    'addI32',
    'configure',
    'configureCopy',
    'copyBuckets',
    'deleteI32',
    'deleteStr',
    'handedBack',
    'lastOld',
    'putF64',
    'putI32',
    'putStrF64',
    'putStrI32',
    'setWriter',
    'stoppedAt',
  ]);
  t.notRegex(watCode(readWat('write-bucket')), /memory\.grow|memory\.fill|memory\.copy|memory\.init|notify|atomic\.wait/);
});
