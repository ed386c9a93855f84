/**
 * README.md examples are tests (as hashbrown runs its README as doctests).
 *
 * Every fenced block that opens with exactly ```js is written, unchanged, to
 * .tmp/readme-<pid>/ under the repo root and run with node. Inside the repo
 * `import 'flatshare'` is a self-reference, so the blocks run against the
 * built dist/ exactly as a user's code would run against the installed package.
 * - Blocks run as ES modules (.mjs); a block on the line after
 *   `<!-- test: cjs -->` runs as CommonJS (.cjs).
 * - A block passes when node exits 0. Worker examples use
 *   `new Worker(new URL(import.meta.url))` with an `isMainThread` branch, so
 *   each block is self-contained.
 * - Code that is not meant to run goes in another fence (```sh, ```ts, ...).
 */
import test from 'ava';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertBuilt, describeRun, repoRoot, runNode } from './support.js';
import { LAYOUT_VERSION } from '../../lib/layout.js';

/** Per-block limit: the examples start at most one worker and finish in well under a second. */
const BLOCK_TIMEOUT_MS = 30_000;
/** The README has at least this many runnable blocks; fewer means the extraction broke. */
const MIN_BLOCKS = 5;

interface Block {
  /** 1-based line of the opening fence in README.md. */
  line: number;
  format: 'esm' | 'cjs';
  code: string;
}

/** The ```js blocks of a markdown text, with the marker comment that precedes each, if any. */
function extractJsBlocks(markdown: string): Block[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(`{3,})(.*)$/.exec(lines[i] as string);
    if (!fence) continue;
    const ticks = fence[1] as string;
    const info = (fence[2] as string).trim();
    const start = i;
    let end = i + 1;
    while (end < lines.length && (lines[end] as string).trim() !== ticks) end++;
    if (info === 'js') {
      const marker = start > 0 ? (lines[start - 1] as string).trim() : '';
      blocks.push({
        line: start + 1,
        format: marker === '<!-- test: cjs -->' ? 'cjs' : 'esm',
        code: lines.slice(start + 1, end).join('\n') + '\n',
      });
    }
    i = end;
  }
  return blocks;
}

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const blocks = extractJsBlocks(readme);
const workDir = join(repoRoot, '.tmp', `readme-${process.pid}`);

test.before(() => {
  assertBuilt();
  mkdirSync(workDir, { recursive: true });
});
test.after.always(() => rmSync(workDir, { recursive: true, force: true }));

test(`README.md has at least ${MIN_BLOCKS} runnable js blocks`, (t) => {
  t.true(blocks.length >= MIN_BLOCKS, `found ${blocks.length}`);
  t.true(blocks.some((b) => b.format === 'cjs'), 'expected a CommonJS example');
  t.true(blocks.some((b) => b.code.includes('new Worker(')), 'expected a worker example');
});

test('extractJsBlocks: takes ```js fences only, with their markers', (t) => {
  const md = ['```sh', 'npm i', '```', '<!-- test: cjs -->', '```js', 'a()', '```', 'text ```js inline', '```js', 'b()', '```', '```ts', 'c()', '```'].join('\n');
  t.deepEqual(extractJsBlocks(md), [
    { line: 5, format: 'cjs', code: 'a()\n' },
    { line: 9, format: 'esm', code: 'b()\n' },
  ]);
});

for (const [n, block] of blocks.entries()) {
  const firstCode = block.code.split('\n').find((l) => l.trim() !== '' && !l.startsWith('import') && !l.startsWith('const {')) ?? '';
  test(`README.md block ${n + 1} (line ${block.line}, ${block.format}) exits 0: ${firstCode.trim().slice(0, 50)}`, async (t) => {
    const file = join(workDir, `block-${n + 1}.${block.format === 'cjs' ? 'cjs' : 'mjs'}`);
    writeFileSync(file, block.code);
    const result = await runNode([file], { timeoutMs: BLOCK_TIMEOUT_MS });
    t.log(result.stdout.trim());
    t.is(result.code, 0, describeRun(`README.md line ${block.line}`, result));
  });
}

test('README.md and docs/design.md name the layout version this build reads', (t) => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const design = readFileSync(join(repoRoot, 'docs', 'design.md'), 'utf8');
  const inReadme = /`LAYOUT_VERSION`, (\d+) in this release/.exec(readme);
  const inDesign = /\| 1 \| LAYOUT_VERSION \| `(\d+)`/.exec(design);
  t.truthy(inReadme, 'README.md states the layout version');
  t.truthy(inDesign, 'the header table of docs/design.md states the layout version');
  t.is(Number(inReadme?.[1]), LAYOUT_VERSION);
  t.is(Number(inDesign?.[1]), LAYOUT_VERSION);
});
