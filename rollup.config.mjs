// Builds dist/index.js (ESM), dist/index.cjs (CJS) and their bundled type
// declarations dist/index.d.ts and dist/index.d.cts (same content: the API has
// no default export, so one declaration file serves both resolutions).
// spec/package/package.test.ts checks the result from a consumer's point of view.
import { rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';

// Start from an empty dist/, so `files: ["dist"]` never publishes stale output.
rmSync('dist', { recursive: true, force: true });

const builtins = new Set(builtinModules);
/**
 * Not bundled: Node built-ins (`node:worker_threads`, ...) and the runtime
 * dependency xxhash-wasm, which is resolved by the consumer through its own
 * `exports` map (its `require` condition for dist/index.cjs, `import` for
 * dist/index.js).
 */
const external = (id) => id === 'xxhash-wasm' || id.startsWith('node:') || builtins.has(id);

export default [
  {
    input: 'lib/index.ts',
    external,
    plugins: [typescript({ tsconfig: './tsconfig.build.json' })],
    output: [
      { file: 'dist/index.js', format: 'es', sourcemap: false },
      {
        file: 'dist/index.cjs',
        format: 'cjs',
        sourcemap: false,
        exports: 'named',
        // xxhash-wasm's CJS build is `module.exports = fn`: treat
        // module.exports as the default import, as Node's ESM loader does.
        interop: 'default',
      },
    ],
  },
  {
    input: 'lib/index.ts',
    external,
    plugins: [dts({ tsconfig: './tsconfig.build.json' })],
    output: [
      { file: 'dist/index.d.ts', format: 'es' },
      { file: 'dist/index.d.cts', format: 'es' },
    ],
  },
];
