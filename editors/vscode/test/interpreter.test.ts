import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

import {
  bundledLauncher,
  checkCommand,
  chooseInterpreter,
  displayInterpreter,
  expandInterpreterSetting,
  importStrategy,
  installCommandLine,
  notInstalledMessage,
  pythonExtensionInterpreter,
  repositoryRoot,
  serverCommand,
  summaryCommand,
} from '../src/interpreter';
import { checkInterpreter, run } from '../src/process';
import { summaryDocument } from '../src/summary';
import { fakeBundle, fakePython, tempDir } from './helpers';

test('interpreter choice: the setting, else the Python extension, else python3', () => {
  assert.deepEqual(chooseInterpreter('/opt/py/bin/python', ['/venv/bin/python']), { argv: ['/opt/py/bin/python'], source: 'setting' });
  assert.deepEqual(chooseInterpreter('  ', ['/venv/bin/python']), { argv: ['/venv/bin/python'], source: 'python-extension' });
  assert.deepEqual(chooseInterpreter('', ['conda', 'run', '-n', 'ml', 'python']),
    { argv: ['conda', 'run', '-n', 'ml', 'python'], source: 'python-extension' });
  assert.deepEqual(chooseInterpreter('', undefined), { argv: ['python3'], source: 'default' });
  assert.deepEqual(chooseInterpreter(undefined, []), { argv: ['python3'], source: 'default' });
});

test('the setting expands ${workspaceFolder}, ~, ${env:X} and workspace-relative paths', () => {
  const ctx = { workspaceFolder: '/ws', home: '/home/me', env: { VENV: '/v' } };
  assert.equal(expandInterpreterSetting('${workspaceFolder}/.venv/bin/python', ctx), '/ws/.venv/bin/python');
  assert.equal(expandInterpreterSetting('.venv/bin/python', ctx), path.resolve('/ws', '.venv/bin/python'));
  assert.equal(expandInterpreterSetting('~/py/bin/python', ctx), '/home/me/py/bin/python');
  assert.equal(expandInterpreterSetting('${userHome}/x/python', ctx), '/home/me/x/python');
  assert.equal(expandInterpreterSetting('${env:VENV}/bin/python', ctx), '/v/bin/python');
  assert.equal(expandInterpreterSetting('python3.12', ctx), 'python3.12');  // looked up on PATH
  assert.equal(expandInterpreterSetting('', ctx), '');
});

test('command lines', () => {
  const interp = { argv: ['/venv/bin/python'], source: 'setting' as const };
  assert.deepEqual(serverCommand(interp), { command: '/venv/bin/python', args: ['-m', 'torch_lsp', 'serve'] });
  assert.deepEqual(checkCommand(interp), { command: '/venv/bin/python', args: ['-c', 'import torch_lsp'] });
  assert.deepEqual(serverCommand(['conda', 'run', '-n', 'ml', 'python']),
    { command: 'conda', args: ['run', '-n', 'ml', 'python', '-m', 'torch_lsp', 'serve'] });
  assert.deepEqual(summaryCommand(interp, '/ws/model.py'),
    { command: '/venv/bin/python', args: ['-m', 'torch_lsp', 'summary', '/ws/model.py'] });
  assert.deepEqual(summaryCommand(interp, '/ws/model.py', { className: 'Net', format: 'json', statements: true }),
    { command: '/venv/bin/python', args: ['-m', 'torch_lsp', 'summary', '--format', 'json', '--statements', '/ws/model.py:Net'] });
});

test('command lines with the bundled server: the launcher script, not -m torch_lsp', () => {
  const interp = { argv: ['/venv/bin/python'], source: 'setting' as const };
  const launcher = '/ext/bundled/tool/lsp_server.py';
  assert.deepEqual(serverCommand(interp, launcher), { command: '/venv/bin/python', args: [launcher, 'serve'] });
  assert.deepEqual(checkCommand(interp, launcher), { command: '/venv/bin/python', args: [launcher, '--version'] });
  assert.deepEqual(serverCommand(['conda', 'run', '-n', 'ml', 'python'], launcher),
    { command: 'conda', args: ['run', '-n', 'ml', 'python', launcher, 'serve'] });
  assert.deepEqual(summaryCommand(interp, '/ws/model.py', { className: 'Net', launcher }),
    { command: '/venv/bin/python', args: [launcher, 'summary', '/ws/model.py:Net'] });
  assert.equal(importStrategy('fromEnvironment'), 'fromEnvironment');
  assert.equal(importStrategy('useBundled'), 'useBundled');
  assert.equal(importStrategy(undefined), 'useBundled');
  assert.equal(importStrategy('bogus'), 'useBundled');
});

test('the bundled launcher is found only with the bundled torch-lsp next to it', (t) => {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  assert.equal(bundledLauncher(dir), undefined);
  assert.equal(bundledLauncher(undefined), undefined);
  fs.mkdirSync(path.join(dir, 'bundled', 'tool'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'bundled', 'tool', 'lsp_server.py'), '');
  assert.equal(bundledLauncher(dir), undefined, 'no bundled/libs/torch_lsp: `npm run bundle` was not run');
  const launcher = fakeBundle(dir);
  assert.equal(bundledLauncher(dir), launcher);
});

test('the fix shown when torch-lsp is missing (a build without the bundled server): no package index', (t) => {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  // The extension inside a clone (editors/vscode): the clone is the install source.
  const ext = path.join(dir, 'editors', 'vscode');
  fs.mkdirSync(ext, { recursive: true });
  assert.equal(repositoryRoot(ext), undefined);
  fs.writeFileSync(path.join(dir, 'pyproject.toml'), '[project]\nname = "torch-lsp"\n');
  assert.equal(repositoryRoot(ext), dir);
  assert.equal(installCommandLine(['/venv/bin/python'], dir), `/venv/bin/python -m pip install ${dir}`);
  assert.equal(installCommandLine(['/My Envs/py'], '/my clone'), `'/My Envs/py' -m pip install '/my clone'`);
  assert.equal(installCommandLine(['/venv/bin/python'], undefined), undefined);
  assert.equal(notInstalledMessage(['/venv/bin/python'], dir),
    'torch-lsp is not installed for /venv/bin/python and this build of the extension has no bundled server: '
    + `run \`npm run bundle\` in ${ext}, or install torch-lsp for this interpreter: \`/venv/bin/python -m pip install ${dir}\``);
  const elsewhere = notInstalledMessage(['/venv/bin/python'], undefined);
  assert.match(elsewhere, /npm run package/);
  assert.match(elsewhere, /-m pip install <clone>/);
  for (const m of [notInstalledMessage(['/venv/bin/python'], dir), elsewhere]) {
    assert.doesNotMatch(m, /pip install torch-lsp/, 'torch-lsp is not on a package index');
  }
  assert.equal(displayInterpreter(['conda', 'run', '-n', 'ml', 'python']), 'conda run -n ml python');
});

test("the Python extension's active environment, resolved to its executable", async () => {
  const api = {
    environments: {
      getActiveEnvironmentPath: (resource?: unknown) => ({ id: 'x', path: resource === 'r' ? '/envs/a/bin/python' : '/other' }),
      resolveEnvironment: async (env: any) => ({ executable: { uri: { fsPath: `${env.path}3.11` } } }),
    },
  };
  assert.deepEqual(await pythonExtensionInterpreter(api, 'r'), ['/envs/a/bin/python3.11']);
  // No resolveEnvironment: the path as given.
  assert.deepEqual(await pythonExtensionInterpreter({ environments: { getActiveEnvironmentPath: () => ({ path: '/p/python' }) } }),
    ['/p/python']);
});

test('the Python extension: execution details as the fallback, failures tolerated', async () => {
  const logs: string[] = [];
  const throwing = {
    environments: { getActiveEnvironmentPath: () => { throw new Error('not ready'); } },
    settings: { getExecutionDetails: () => ({ execCommand: ['conda', 'run', '-n', 'ml', 'python'] }) },
  };
  assert.deepEqual(await pythonExtensionInterpreter(throwing, undefined, (m) => logs.push(m)), ['conda', 'run', '-n', 'ml', 'python']);
  assert.match(logs.join('\n'), /not ready/);
  assert.equal(await pythonExtensionInterpreter(undefined), undefined);
  assert.equal(await pythonExtensionInterpreter({}), undefined);
  assert.equal(await pythonExtensionInterpreter({ settings: { getExecutionDetails: () => ({ execCommand: undefined }) } }), undefined);
  assert.equal(await pythonExtensionInterpreter({ settings: { getExecutionDetails: () => { throw new Error('x'); } } }), undefined);
  // An environment folder without a known executable (conda): ask the execution details.
  const dir = tempDir();
  const folderOnly = {
    environments: { getActiveEnvironmentPath: () => ({ path: dir }), resolveEnvironment: async () => ({ executable: {} }) },
    settings: { getExecutionDetails: () => ({ execCommand: ['/envs/c/bin/python'] }) },
  };
  assert.deepEqual(await pythonExtensionInterpreter(folderOnly), ['/envs/c/bin/python']);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the install check, with fake interpreters', async (t) => {
  const dir = tempDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const good = fakePython(dir, { name: 'good' });
  const missing = fakePython(dir, { name: 'missing', installed: false });
  const slow = fakePython(dir, { name: 'slow', sleep: 5 });
  assert.deepEqual(await checkInterpreter([good]), { ok: true });
  const m = await checkInterpreter([missing]);
  assert.equal(m.ok, false);
  assert.equal(!m.ok && m.reason, 'not-installed');
  assert.match(!m.ok ? m.detail : '', /No module named 'torch_lsp'/);
  const nf = await checkInterpreter([path.join(dir, 'nope')]);
  assert.equal(!nf.ok && nf.reason, 'not-found');
  const started = Date.now();
  const to = await checkInterpreter([slow], { timeoutMs: 300 });
  assert.equal(!to.ok && to.reason, 'timeout');
  assert.ok(Date.now() - started < 4000);

  // With the bundled launcher: `--version`, and a failure is the interpreter's, with its message.
  const launcher = fakeBundle(path.join(dir, 'ext'));
  assert.deepEqual(await checkInterpreter([missing], {}, run, launcher), { ok: true, version: 'torch-lsp 0.1.0' });
  const old = fakePython(dir, { name: 'python3.9', tooOld: true });
  const o = await checkInterpreter([old], {}, run, launcher);
  assert.equal(!o.ok && o.reason, 'error');
  assert.match(!o.ok ? o.detail : '', /needs Python 3\.10 or newer/);
});

test('run: exit codes and output', async () => {
  const ok = await run({ command: process.execPath, args: ['-e', 'console.log("hi"); console.error("err")'] });
  assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, 'hi\n', 'err\n']);
  const bad = await run({ command: process.execPath, args: ['-e', 'process.exit(2)'] });
  assert.equal(bad.code, 2);
  assert.equal(bad.error, undefined);
});

test('the summary document', () => {
  const cmd = summaryCommand(['/venv/bin/python'], '/ws/lenet.py');
  const okDoc = summaryDocument('/ws/lenet.py', cmd, { code: 0, stdout: 'LeNet\nLayer  Type\n', stderr: '' });
  assert.equal(okDoc.error, undefined);
  assert.equal(okDoc.content,
    'Model summary: lenet.py\n$ /venv/bin/python -m torch_lsp summary /ws/lenet.py\n\nLeNet\nLayer  Type\n');
  const failed = summaryDocument('/ws/bad.py', cmd, { code: 2, stdout: '', stderr: "error: /ws/bad.py: syntax error: '(' was never closed\n" });
  assert.equal(failed.error, "torch-lsp summary failed for bad.py: error: /ws/bad.py: syntax error: '(' was never closed");
  assert.match(failed.content, /\nFailed: error: .*syntax error/);
  const copied = summaryDocument('untitled.py', cmd, { code: 0, stdout: 'no nn.Module classes in this file\n', stderr: '' }, true);
  assert.match(copied.content, /unsaved changes/);
  const timedOut = summaryDocument('x.py', cmd, { code: null, stdout: '', stderr: '',
    error: { message: 'timed out after 60000 ms', timedOut: true } });
  assert.match(timedOut.error ?? '', /timed out/);
});
