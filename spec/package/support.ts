/**
 * Shared helpers of the spec/package tests: where the repo is, where the built
 * bundle is, and a child-process runner that never throws on a non-zero exit.
 *
 * These tests check the package as a consumer sees it, so they load
 * `dist/` (built by `npm run build`, which `npm test` runs first) and never
 * `lib/`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repo root: the nearest directory above this file whose package.json is flatshare's. */
export const repoRoot: string = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

/** spec/package/fixtures in the source tree (tsc does not copy them to build/). */
/** Every file below `dir`, recursively (paths include `dir`). */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else out.push(path);
  }
  return out;
}

export const fixturesDir: string = join(repoRoot, 'spec', 'package', 'fixtures');

/** The TypeScript compiler of the repo's devDependencies. */
export const tscPath: string = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');

/** The files `npm run build` must produce. */
export const DIST_FILES = ['dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts'] as const;

/** Parsed package.json of the repo. */
export interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  files?: string[];
  exports?: unknown;
}

export function readPackageJson(dir: string = repoRoot): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** Throws a clear error when dist/ has not been built. */
export function assertBuilt(): void {
  const missing = DIST_FILES.filter((file) => !existsSync(join(repoRoot, file)));
  if (missing.length > 0) {
    throw new Error(`${missing.join(', ')} missing: run \`npm run build\` first (\`npm test\` does it for you)`);
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time in milliseconds. */
  ms: number;
}

export interface RunOptions {
  cwd?: string;
  /** Kill the child after this many milliseconds (default 60 s). */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Run `command args` and collect its output. Resolves on exit, whatever the exit code. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd ?? repoRoot,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // npm is npm.cmd on Windows, which only a shell can start.
      shell: process.platform === 'win32' && command === npmCommand,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Run a Node script with the current Node binary. */
export function runNode(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return run(process.execPath, args, options);
}

/** The npm executable name on this platform. */
export const npmCommand: string = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** One line summary of a failed run, for assertion messages. */
export function describeRun(what: string, result: RunResult): string {
  return `${what} exited with ${result.code ?? result.signal} after ${result.ms} ms\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
}

/** The last line of stdout parsed as JSON (the smoke fixtures print one JSON line). */
export function lastJsonLine(stdout: string): unknown {
  const last = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last);
  } catch {
    throw new Error(`expected a JSON line at the end of stdout, got:\n${stdout}`);
  }
}

function findRepoRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'flatshare') {
      return dir;
    }
    if (dirname(dir) === dir) throw new Error(`no flatshare package.json above ${start}`);
  }
}
