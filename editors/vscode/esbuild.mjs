// npm run build: src/extension.ts -> dist/extension.js (one CommonJS file; `vscode` is provided by VS Code).
// node esbuild.mjs --tests: test/*.test.ts -> out/test/*.test.js, with `vscode` and
// `vscode-languageclient/node` replaced by the fakes in test/fakes/ (no editor, no server),
// and src/settings.ts -> out/settings.js.
import * as esbuild from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';

const tests = process.argv.includes('--tests');
const production = process.argv.includes('--production');

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
};

if (tests) {
  rmSync('out', { recursive: true, force: true });
  const entryPoints = readdirSync('test').filter((f) => f.endsWith('.test.ts')).map((f) => `test/${f}`);
  await esbuild.build({
    ...common,
    entryPoints,
    outdir: 'out/test',
    sourcemap: 'inline',
    alias: {
      vscode: './test/fakes/vscode.ts',
      'vscode-languageclient/node': './test/fakes/languageclient.ts',
    },
  });
  // The settings mapping alone, for tests/test_vscode_extension.py (the server parses what it gives).
  await esbuild.build({ ...common, entryPoints: ['src/settings.ts'], outfile: 'out/settings.js' });
} else {
  rmSync('dist', { recursive: true, force: true });
  await esbuild.build({
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.js',
    external: ['vscode'],
    minify: production,
    sourcemap: !production,
  });
}
