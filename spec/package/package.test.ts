/**
 * The package as its users get it: the built bundle (dist/), its `exports`
 * map, its type declarations, and the tarball `npm pack` makes of it.
 *
 * - ESM `import('flatshare')` and CJS `require('flatshare')` (self-reference
 *   from the repo) expose the same API and work, across builds and workers.
 * - A consumer .mts/.cts (spec/package/fixtures/types) type-checks against
 *   dist/index.d.ts and dist/index.d.cts with `tsc --noEmit`.
 * - `npm pack` + `npm install <tarball> --offline` into an empty project:
 *   .mjs and .cjs scripts there import/require flatshare and use it in a
 *   Worker. This fails when `files`, `exports` or `dependencies` are broken.
 *
 * Needs `npm run build` first (`npm test` runs it).
 */
import test from 'ava';
import { builtinModules, createRequire } from 'node:module';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  DIST_FILES,
  assertBuilt,
  describeRun,
  fixturesDir,
  lastJsonLine,
  npmCommand,
  readPackageJson,
  repoRoot,
  run,
  runNode,
  tscPath,
  type RunResult,
} from './support.js';

/** The public API's shape, from the sources; the runtime values come from dist/. */
type Flatshare = typeof import('../../lib/index.js');

/** A variable, so that tsc does not resolve it (dist/ may not exist when the specs compile). */
const PACKAGE_NAME: string = 'flatshare';

/** Exactly what `npm pack` must put in the tarball. */
const EXPECTED_TARBALL_FILES = [
  'CHANGELOG.md',
  'LICENSE',
  'README.md',
  'dist/index.cjs',
  'dist/index.d.cts',
  'dist/index.d.ts',
  'dist/index.js',
  'package.json',
];

/** tsc flags of a strict, minimal consumer: no @types/node, lib es2022 only, and the .d.ts files checked too. */
const TSC_CONSUMER_FLAGS = [
  '--ignoreConfig',
  '--noEmit',
  '--pretty',
  'false',
  '--strict',
  '--target',
  'es2022',
  '--lib',
  'es2022',
  '--skipLibCheck',
  'false',
  '--listFiles',
];
const NODENEXT = ['--module', 'nodenext', '--moduleResolution', 'nodenext'];
const BUNDLER = ['--module', 'esnext', '--moduleResolution', 'bundler'];

const TYPE_FIXTURES = ['consumer.mts', 'consumer.cts'];
const SMOKE_FIXTURES = ['smoke.mjs', 'smoke.cjs', 'smoke-worker.mjs', 'smoke-worker.cjs'];

test.before(() => assertBuilt());

// ---------------------------------------------------------------- dist contents

/** Bare module specifiers that a built file imports or requires. */
function importedModules(source: string): string[] {
  const found = new Set<string>();
  const patterns = [/\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) found.add(match[1] as string);
  return [...found].sort();
}

test('dist: JS bundles import only node: built-ins and declared dependencies (no tslib, no relative files)', (t) => {
  const dependencies = Object.keys(readPackageJson().dependencies ?? {});
  const builtins = new Set(builtinModules);
  for (const file of ['dist/index.js', 'dist/index.cjs']) {
    const source = readFileSync(join(repoRoot, file), 'utf8');
    const modules = importedModules(source);
    t.log(`${file}: ${modules.join(', ')}`);
    t.false(/\btslib\b/.test(source), `${file} mentions tslib: it is a devDependency and must not be needed at run time`);
    for (const id of modules) {
      const ok = dependencies.includes(id) || (id.startsWith('node:') && builtins.has(id.slice('node:'.length)));
      t.true(ok, `${file} imports ${JSON.stringify(id)}, which is neither a node: built-in nor in dependencies`);
    }
  }
});

test('dist: the CJS bundle is CommonJS and the ESM bundle is ESM', (t) => {
  const cjs = readFileSync(join(repoRoot, 'dist/index.cjs'), 'utf8');
  const esm = readFileSync(join(repoRoot, 'dist/index.js'), 'utf8');
  t.regex(cjs, /^'use strict';/);
  t.regex(cjs, /\bexports\.SharedFlatMap\s*=/);
  t.notRegex(cjs, /^\s*(import|export)\s/m);
  t.regex(esm, /^export \{/m);
  t.notRegex(esm, /\brequire\(/);
});

test('dist: declarations carry the TSDoc, omit @internal members, and are the same for import and require', (t) => {
  const dts = readFileSync(join(repoRoot, 'dist/index.d.ts'), 'utf8');
  const dcts = readFileSync(join(repoRoot, 'dist/index.d.cts'), 'utf8');
  t.is(dcts, dts);
  t.true((dts.match(/\/\*\*/g) ?? []).length >= 40, 'expected the TSDoc comments of lib/ in the declarations');
  t.true(dts.includes('@defaultValue'), 'option defaults (@defaultValue) missing from the declarations');
  t.true(dts.includes('Weakly consistent'), 'iteration guarantee missing from the declarations');
  t.false(dts.includes('@internal'));
  t.false(dts.includes('unsafeExposeInternals'));
  const dependencies = Object.keys(readPackageJson().dependencies ?? {});
  for (const id of importedModules(dts)) t.true(dependencies.includes(id), `declarations import ${id}`);
});

// ---------------------------------------------------------------- ESM and CJS from the repo

test('exports: import and require resolve to dist/index.js and dist/index.cjs', (t) => {
  t.is(import.meta.resolve(PACKAGE_NAME), pathToFileURL(join(repoRoot, 'dist', 'index.js')).href);
  t.is(createRequire(import.meta.url).resolve(PACKAGE_NAME), join(repoRoot, 'dist', 'index.cjs'));
});

test('exports: ESM and CJS builds expose the same API, and both work', async (t) => {
  const esm = (await import(PACKAGE_NAME)) as Flatshare;
  const cjs = createRequire(import.meta.url)(PACKAGE_NAME) as Flatshare;
  const esmNames = Object.keys(esm).sort();
  t.deepEqual(Object.keys(cjs).sort(), esmNames);
  t.deepEqual(esmNames, [
    'ErrorCode',
    'FlatshareFullError',
    'FlatshareRangeError',
    'FlatshareTimeoutError',
    'FlatshareTypeError',
    'FlatshareUnsupportedError',
    'LAYOUT_VERSION',
    'MAX_WRITERS',
    'SharedFlatMap',
    'hashers',
  ]);
  for (const name of esmNames) t.is(typeof cjs[name as keyof Flatshare], typeof esm[name as keyof Flatshare], name);
  t.deepEqual({ ...cjs.ErrorCode }, { ...esm.ErrorCode });
  t.is(cjs.LAYOUT_VERSION, esm.LAYOUT_VERSION);

  for (const [format, api] of [['esm', esm], ['cjs', cjs]] as const) {
    const map = new api.SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
    map.set(1, 10).set(2, 20);
    t.is(map.get(1), 10, format);
    t.is(map.add(2, 1), 21, format);
    t.deepEqual([...api.SharedFlatMap.attach(map.handle)].sort(), [[1, 10], [2, 21]], format);
    const error = t.throws(() => map.set(1, 0.5), { instanceOf: api.FlatshareRangeError });
    t.is((error as unknown as { code: string }).code, api.ErrorCode.VALUE, format);
    const hasher = await api.hashers.xxhash32({ seed: 9 });
    const floats = new api.SharedFlatMap<number, number>({ keys: 'int32', values: 'float64', hasher });
    floats.set(3, 0.25);
    t.is(api.SharedFlatMap.attach<number, number>(floats.handle, { hasher }).get(3), 0.25, format);
  }
});

test('exports: a map created by one build attaches in the other (the dual-package case)', async (t) => {
  const esm = (await import(PACKAGE_NAME)) as Flatshare;
  const cjs = createRequire(import.meta.url)(PACKAGE_NAME) as Flatshare;
  const fromEsm = new esm.SharedFlatMap<number, number>({ keys: 'int32', values: 'int32' });
  fromEsm.set(7, 70);
  const inCjs = cjs.SharedFlatMap.attach<number, number>(fromEsm.handle);
  t.is(inCjs.get(7), 70);
  inCjs.set(8, 80);
  t.is(fromEsm.get(8), 80);
  // Two copies of the class exist, as with any dual package: instanceof does not cross builds.
  t.not(cjs.SharedFlatMap, esm.SharedFlatMap);
});

test('exports: smoke scripts (.mjs with a CJS worker, .cjs with an ESM worker) run against the repo build', async (t) => {
  for (const [script, format, file] of [['smoke.mjs', 'esm', 'index.js'], ['smoke.cjs', 'cjs', 'index.cjs']] as const) {
    const result = await runNode([join(fixturesDir, 'smoke', script)]);
    if (result.code !== 0) {
      t.fail(describeRun(script, result));
      continue;
    }
    const reply = lastJsonLine(result.stdout) as { ok: boolean; format: string; resolved: string };
    t.like(reply, { ok: true, format });
    t.true(reply.resolved.endsWith(`dist/${file}`) || reply.resolved.endsWith(`dist${sep}${file}`), reply.resolved);
  }
});

// ---------------------------------------------------------------- types

/** Files tsc read (it prints '/' separators on every OS), without TypeScript's own lib files. */
function listedFiles(result: RunResult): string[] {
  return result.stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.includes('node_modules/typescript/lib'));
}

/** A path in tsc's spelling. */
function posix(path: string): string {
  return path.replaceAll('\\', '/');
}

test('types: consumer .mts (import) and .cts (require) type-check against dist/index.d.ts and dist/index.d.cts (nodenext)', async (t) => {
  const files = TYPE_FIXTURES.map((file) => join(fixturesDir, 'types', file));
  const result = await runNode([tscPath, ...TSC_CONSUMER_FLAGS, ...NODENEXT, ...files]);
  t.is(result.code, 0, describeRun('tsc (nodenext)', result));
  const listed = listedFiles(result);
  t.true(listed.includes(posix(join(repoRoot, 'dist', 'index.d.ts'))), `import resolution did not use dist/index.d.ts:\n${listed.join('\n')}`);
  t.true(listed.includes(posix(join(repoRoot, 'dist', 'index.d.cts'))), `require resolution did not use dist/index.d.cts:\n${listed.join('\n')}`);
});

test('types: consumer .mts type-checks with moduleResolution bundler', async (t) => {
  const result = await runNode([tscPath, ...TSC_CONSUMER_FLAGS, ...BUNDLER, join(fixturesDir, 'types', 'consumer.mts')]);
  t.is(result.code, 0, describeRun('tsc (bundler)', result));
  t.true(listedFiles(result).includes(posix(join(repoRoot, 'dist', 'index.d.ts'))));
});

test('types: the repo tsconfig.json does not pick up the fixtures', async (t) => {
  const result = await runNode([tscPath, '-p', join(repoRoot, 'tsconfig.json'), '--listFilesOnly']);
  t.is(result.code, 0, describeRun('tsc --listFilesOnly', result));
  const fixtures = listedFiles(result).filter((file) => file.includes('spec/package/fixtures'));
  t.deepEqual(fixtures, []);
});

// ---------------------------------------------------------------- npm pack + install

/** `npm pack` the package in `dir` into `destination`; returns the tarball path and its file list. */
async function pack(t: { is: (a: unknown, b: unknown, m?: string) => void }, dir: string, destination: string) {
  const result = await run(npmCommand, ['pack', '--ignore-scripts', '--json', '--pack-destination', destination], { cwd: dir });
  t.is(result.code, 0, describeRun(`npm pack in ${dir}`, result));
  const [info] = JSON.parse(result.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  if (!info) throw new Error(`npm pack printed no JSON:\n${result.stdout}`);
  return { tarball: join(destination, info.filename), files: info.files.map((f) => f.path.replaceAll('\\', '/')).sort() };
}

test('npm pack (slow: pack + offline install): the tarball installs into an empty project and works from .mjs, .cjs, a Worker and tsc', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'flatshare-pack-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const project = join(dir, 'consumer');
  mkdirSync(project);

  const own = await pack(t, repoRoot, dir);
  t.deepEqual(own.files, EXPECTED_TARBALL_FILES, 'tarball contents (package.json "files")');
  // The one runtime dependency, packed from the repo's node_modules, so that
  // the install needs neither the network nor the npm cache.
  const dependency = await pack(t, join(repoRoot, 'node_modules', 'xxhash-wasm'), dir);

  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'flatshare-consumer', version: '1.0.0', private: true }));
  const installArgs = ['install', own.tarball, dependency.tarball, '--no-audit', '--no-fund', '--ignore-scripts'];
  let install = await run(npmCommand, [...installArgs, '--offline', '--cache', join(dir, 'npm-cache')], { cwd: project });
  if (install.code !== 0) {
    t.log(describeRun('npm install --offline (retrying with --prefer-offline)', install));
    install = await run(npmCommand, [...installArgs, '--prefer-offline'], { cwd: project });
  }
  t.is(install.code, 0, describeRun('npm install', install));
  t.log(`npm install: ${install.ms} ms`);

  // flatshare's own package.json must declare what dist/ imports at run time.
  const installed = readPackageJson(join(project, 'node_modules', 'flatshare'));
  const xxhashVersion = readPackageJson(join(project, 'node_modules', 'xxhash-wasm')).version;
  t.is(installed.dependencies?.['xxhash-wasm'], xxhashVersion, 'flatshare declares the installed xxhash-wasm');
  t.deepEqual(readdirSync(join(project, 'node_modules', 'flatshare', 'dist')).sort(), DIST_FILES.map((f) => f.slice('dist/'.length)).sort());

  for (const file of SMOKE_FIXTURES) copyFileSync(join(fixturesDir, 'smoke', file), join(project, file));
  for (const file of TYPE_FIXTURES) copyFileSync(join(fixturesDir, 'types', file), join(project, file));
  const installedDist = join(project, 'node_modules', 'flatshare', 'dist');

  for (const [script, format, file] of [['smoke.mjs', 'esm', 'index.js'], ['smoke.cjs', 'cjs', 'index.cjs']] as const) {
    const result = await runNode([script], { cwd: project });
    if (result.code !== 0) {
      t.fail(describeRun(`${script} in the consumer project`, result));
      continue;
    }
    const reply = lastJsonLine(result.stdout) as { ok: boolean; format: string; resolved: string };
    t.like(reply, { ok: true, format });
    const expected = format === 'esm' ? pathToFileURL(join(installedDist, file)).href : join(installedDist, file);
    // tmpdir() may be a symlink (macOS); compare the tail that matters.
    t.true(reply.resolved.endsWith(expected.slice(expected.indexOf('node_modules'))), `${script} loaded ${reply.resolved}`);
  }

  const types = await runNode([tscPath, ...TSC_CONSUMER_FLAGS, ...NODENEXT, ...TYPE_FIXTURES], { cwd: project });
  t.is(types.code, 0, describeRun('tsc in the consumer project', types));
  const listed = listedFiles(types);
  for (const file of ['index.d.ts', 'index.d.cts']) {
    t.true(listed.some((f) => f.endsWith(`node_modules/flatshare/dist/${file}`)), `tsc did not read dist/${file}:\n${listed.join('\n')}`);
  }
});
