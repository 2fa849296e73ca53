// activate() against the fake `vscode` and a fake LanguageClient; the "interpreters" are shell scripts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';

import pkg from '../package.json';
import {
  activate, cleanExitAsInfo, COMMANDS, deactivate, DOCUMENT_SELECTOR, EXTENSION_ID, SETTINGS_QUERY, TorchLspApi,
} from '../src/extension';
import { behaviour, clients, LanguageClient, State, TransportKind } from './fakes/languageclient';
import { EventEmitter, fake, makeContext, Uri, ViewColumn } from './fakes/vscode';
import { calls, fakeBundle, fakePython, sleep, strategies, tempDir, until } from './helpers';

const EXPECTED_DEFAULTS = {
  select: null,
  ignore: null,
  extendSelect: [],
  extendIgnore: [],
  inlayHints: true,
  reportSyntaxErrors: true,
  unsafeFixes: false,
  logLevel: 'info',
  maxFileSize: 2000000,
  maxFileLines: 100000,
  runtime: { enabled: false },
  workspaceTrusted: true,
};

let dir: string;
let extDir: string;
let python: string;
let savedPath: string | undefined;

beforeEach(() => {
  fake.reset();
  clients.length = 0;
  behaviour.startFails = undefined;
  dir = tempDir();
  extDir = path.join(dir, 'editors', 'vscode');  // as in a clone: the repository is two folders up
  fs.mkdirSync(extDir, { recursive: true });
  python = fakePython(dir);
  fake.state.user['torch-lsp.interpreter'] = python;
  savedPath = process.env.PATH;
});

afterEach(async () => {
  await deactivate();
  process.env.PATH = savedPath;
  fs.rmSync(dir, { recursive: true, force: true });
});

async function start(): Promise<TorchLspApi> {
  const api = activate(makeContext(extDir) as any);
  await api.ready;
  return api;
}

function lastClient(): LanguageClient {
  assert.ok(clients.length > 0, 'no LanguageClient was created');
  return clients[clients.length - 1];
}

test('activation: commands, output channel, status bar, and the server started with the settings', async () => {
  const api = await start();
  for (const id of Object.values(COMMANDS)) assert.ok(fake.state.commands.has(id), `${id} is not registered`);
  assert.deepEqual(fake.state.outputs.map((o) => o.name), ['torch-lsp']);
  const item = fake.statusItem!;
  assert.ok(item.visible);
  assert.equal(item.command, 'torch-lsp.showOutput');

  assert.equal(clients.length, 1);
  const client = lastClient();
  assert.equal(client.id, 'torch-lsp');  // `torch-lsp.trace.server` is read by this id
  assert.deepEqual(client.serverOptions.command, python);
  assert.deepEqual(client.serverOptions.args, ['-m', 'torch_lsp', 'serve']);
  assert.equal(client.serverOptions.transport, TransportKind.stdio);  // the client appends --stdio
  assert.equal(client.serverOptions.options.cwd, extDir);  // not the workspace: `python -m` puts the cwd on sys.path
  assert.deepEqual(client.clientOptions.documentSelector, [
    { scheme: 'file', language: 'python' },
    { scheme: 'untitled', language: 'python' },
    { notebook: '*', language: 'python' },  // the Python cells of notebooks
  ]);
  assert.equal(client.clientOptions.documentSelector, DOCUMENT_SELECTOR);
  assert.deepEqual(client.clientOptions.initializationOptions, EXPECTED_DEFAULTS);
  assert.equal(client.clientOptions.synchronize.configurationSection, 'torch-lsp');
  // The client writes to the torch-lsp output channel (through cleanExitAsInfo).
  client.clientOptions.outputChannel.appendLine('[Info  - 10:00:00] hello');
  assert.match(fake.output!.text, /\[Info {2}- 10:00:00\] hello\n/);
  assert.equal(client.state, State.Running);
  assert.deepEqual(calls(python), ['-c import torch_lsp']);

  assert.equal(api.status(), 'running');
  assert.deepEqual(api.interpreter(), [python]);
  assert.equal(item.text, '$(check) torch-lsp');
  assert.match(String(item.tooltip), new RegExp(`Interpreter: ${python}`));
  assert.match(String(item.tooltip), /running/);
  assert.equal(item.backgroundColor, undefined);
  assert.match(fake.output!.text, /Starting: .* -m torch_lsp serve --stdio/);
});

test('settings: initializationOptions, workspace/configuration and didChangeConfiguration share one shape', async () => {
  Object.assign(fake.state.user, {
    'torch-lsp.select': ['TL1'],
    'torch-lsp.extendIgnore': ['TL902'],
    'torch-lsp.logLevel': 'debug',
    'torch-lsp.runtime.enabled': true,
    'torch-lsp.runtime.timeout': 3,
  });
  await start();
  const client = lastClient();
  const expected = {
    ...EXPECTED_DEFAULTS, select: ['TL1'], extendIgnore: ['TL902'], logLevel: 'debug',
    runtime: { enabled: true, timeout: 3 },
  };
  assert.deepEqual(client.clientOptions.initializationOptions, expected);

  // workspace/configuration: ours answered by the middleware, other sections by the default handler.
  const answer = await client.requestConfiguration([{ section: 'torch-lsp' }, { section: 'python' },
    { section: 'torch-lsp', scopeUri: 'file:///ws/a.py' }]);
  assert.deepEqual(answer, [expected, null, expected]);

  // A change: the server's shape, not the raw section.
  client.notifications.length = 0;
  fake.setConfig({ 'torch-lsp.inlayHints': false });  // the client hears of it (synchronize.configurationSection)
  await until(() => client.notifications.length > 0, 'the settings sent');
  assert.deepEqual(client.notifications, [{
    method: 'workspace/didChangeConfiguration',
    params: { settings: { 'torch-lsp': { ...expected, inlayHints: false } } },
  }]);
  assert.equal(clients.length, 1, 'a setting other than the interpreter does not restart the server');
});

test('untrusted workspace: runtime evaluation is sent disabled until trust is granted', async () => {
  fake.state.trusted = false;
  fake.state.user['torch-lsp.runtime.enabled'] = true;
  await start();
  const client = lastClient();
  assert.deepEqual(client.clientOptions.initializationOptions.runtime, { enabled: false });
  assert.equal(client.clientOptions.initializationOptions.workspaceTrusted, false);
  const [pulled] = await client.requestConfiguration([{ section: 'torch-lsp' }]) as any[];
  assert.equal(pulled.runtime.enabled, false);
  assert.equal(pulled.workspaceTrusted, false);
  assert.match(String(fake.statusItem!.tooltip), /Runtime evaluation: off \(untrusted workspace\)/);

  client.notifications.length = 0;
  fake.grantTrust();
  await until(() => client.notifications.length > 0, 'the settings sent again');
  const sent = client.notifications[0].params.settings['torch-lsp'];
  assert.equal(sent.runtime.enabled, true);
  assert.equal(sent.workspaceTrusted, true);
  assert.match(String(fake.statusItem!.tooltip), /Runtime evaluation: on/);
});

test('a build without the bundled server and torch-lsp missing: the fix from the clone, no client, the status bar in error', async () => {
  const missing = fakePython(dir, { name: 'python-without', installed: false });
  fs.writeFileSync(path.join(dir, 'pyproject.toml'), '[project]\nname = "torch-lsp"\n');
  fake.state.user['torch-lsp.interpreter'] = missing;
  fake.state.answer = 'Copy command';
  const api = await start();
  assert.equal(clients.length, 0);
  assert.equal(api.status(), 'not-installed');
  const errors = fake.state.messages.filter((m) => m.kind === 'error');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].message, `torch-lsp is not installed for ${missing} and this build of the extension has no `
    + `bundled server: run \`npm run bundle\` in ${extDir}, or install torch-lsp for this interpreter: `
    + `\`${missing} -m pip install ${dir}\``);
  assert.deepEqual(errors[0].items, ['Copy command', 'Open settings']);
  await fake.settled();
  assert.equal(fake.state.clipboard, `${missing} -m pip install ${dir}`);
  const item = fake.statusItem!;
  assert.equal(item.text, '$(error) torch-lsp');
  assert.match(String(item.tooltip), /not installed/);
  assert.ok(item.backgroundColor);
  assert.match(fake.output!.text, /No module named 'torch_lsp'/);

  // "Open settings" opens the interpreter setting.
  fake.state.messages.length = 0;
  fake.state.answer = 'Open settings';
  await api.restart();
  await fake.settled();
  // ... this extension's settings (a setting id alone landed on an empty User tab in code-server).
  assert.deepEqual(fake.state.executed.at(-1), ['workbench.action.openSettings', '@ext:torch-lsp.torch-lsp']);
  assert.equal(SETTINGS_QUERY, `@ext:${EXTENSION_ID}`);
  assert.equal(EXTENSION_ID, `${pkg.publisher}.${pkg.name}`);

  // In a remote window (code-server) the User tab hides machine-scoped settings such as the interpreter:
  // the Remote tab, whose command takes {query}.
  fake.state.remoteName = 'code-server';
  await api.restart();
  await fake.settled();
  assert.deepEqual(fake.state.executed.at(-1), ['workbench.action.openRemoteSettings', { query: '@ext:torch-lsp.torch-lsp' }]);
  fake.state.remoteName = undefined;

  // Fixing the setting re-checks and starts the server.
  fake.setConfig({ 'torch-lsp.interpreter': python });
  await until(() => clients.length === 1 && api.status() === 'running', 'the server started');
  assert.equal(lastClient().serverOptions.command, python);
  assert.equal(item.text, '$(check) torch-lsp');
});

test('an interpreter that does not exist: an error message, no client', async () => {
  const nowhere = path.join(dir, 'no', 'python');
  fake.state.user['torch-lsp.interpreter'] = nowhere;
  const api = await start();
  assert.equal(clients.length, 0);
  assert.equal(api.status(), 'failed');
  const [err] = fake.state.messages;
  assert.equal(err.kind, 'error');
  assert.match(err.message, /cannot run the Python interpreter/);
  assert.ok(err.items.includes('Open settings'));
  assert.equal(fake.statusItem!.text, '$(error) torch-lsp');
});

test("no setting: the Python extension's interpreter, and a restart when it changes", async () => {
  delete fake.state.user['torch-lsp.interpreter'];
  const second = fakePython(dir, { name: 'python-b' });
  const changed = new EventEmitter<unknown>();
  let active = python;
  const api = {
    environments: {
      getActiveEnvironmentPath: () => ({ id: active, path: active }),
      resolveEnvironment: async (e: { path: string }) => ({ executable: { uri: Uri.file(e.path) } }),
      onDidChangeActiveEnvironmentPath: changed.event,
    },
  };
  let activated = 0;
  fake.state.extensions.set('ms-python.python', {
    id: 'ms-python.python', isActive: false, exports: undefined,
    activate: async () => { activated++; return api; },
  });
  const ext = await start();
  assert.equal(activated, 1);
  assert.equal(lastClient().serverOptions.command, python);
  assert.match(fake.output!.text, /the Python extension/);

  active = second;
  changed.fire({ path: second });
  await until(() => clients.length === 2 && ext.status() === 'running', 'the restart');
  assert.equal(clients[0].state, State.Stopped);
  assert.equal(lastClient().serverOptions.command, second);
  assert.equal(activated, 1);

  // With torch-lsp.interpreter set, the Python extension's changes do not matter.
  fake.setConfig({ 'torch-lsp.interpreter': python });
  await until(() => clients.length === 3 && ext.status() === 'running', 'the restart for the setting');
  assert.equal(lastClient().serverOptions.command, python);
  changed.fire({ path: second });
  await ext.ready;
  assert.equal(clients.length, 3);
});

test('the Python extension absent or failing: python3 from PATH', async () => {
  delete fake.state.user['torch-lsp.interpreter'];
  const python3 = fakePython(dir, { name: 'python3' });
  process.env.PATH = `${dir}${path.delimiter}${process.env.PATH}`;
  fake.state.extensions.set('ms-python.python', {
    id: 'ms-python.python', isActive: false, activate: async () => { throw new Error('boom'); },
  });
  const api = await start();
  assert.equal(lastClient().serverOptions.command, 'python3');
  assert.deepEqual(api.interpreter(), ['python3']);
  assert.deepEqual(calls(python3), ['-c import torch_lsp']);
  assert.match(fake.output!.text, /did not activate: Error: boom/);
});

test('restart command: the old client stops, a new one starts', async () => {
  const api = await start();
  const first = lastClient();
  await fake.state.commands.get(COMMANDS.restart)!();
  assert.equal(clients.length, 2);
  assert.equal(first.state, State.Stopped);
  assert.equal(first.stopped, 1);
  assert.equal(lastClient().state, State.Running);
  assert.equal(api.status(), 'running');
  // showOutput
  await fake.state.commands.get(COMMANDS.showOutput)!();
  assert.equal(fake.output!.shown, 1);
});

test('the server does not start: error state and message', async () => {
  behaviour.startFails = 'Pending response rejected since connection got disposed';
  const api = await start();
  assert.equal(api.status(), 'failed');
  assert.equal(fake.statusItem!.text, '$(error) torch-lsp');
  const [err] = fake.state.messages;
  assert.match(err.message, /the server did not start/);
  assert.deepEqual(err.items, ['Show output']);
});

test('the server stops by itself: error state', async () => {
  const api = await start();
  await lastClient().stop();
  assert.equal(api.status(), 'stopped');
  assert.equal(fake.statusItem!.text, '$(error) torch-lsp');
});

test('Show Model Summary: the summary of the active file beside it, in a read-only document', async () => {
  await start();
  const file = path.join(dir, 'lenet.py');
  fs.writeFileSync(file, 'import torch\n');
  fake.state.activeEditor = { document: { uri: Uri.file(file), languageId: 'python', isDirty: false, getText: () => 'x' } };
  await fake.state.commands.get(COMMANDS.showSummary)!();
  assert.equal(fake.state.opened.length, 1);
  const doc = fake.state.opened[0];
  // Not an untitled document (which asks to be saved): one of the extension's own scheme, from its provider.
  assert.equal(doc.uri?.scheme, 'torch-lsp-summary');
  assert.equal(doc.uri?.path, `${file} (model summary)`);
  assert.ok(fake.state.contentProviders.has('torch-lsp-summary'));
  assert.match(doc.content!, /^Model summary: lenet\.py\n/);
  assert.match(doc.content!, /Total parameters: 44726/);
  assert.match(doc.content!, new RegExp(`ARGS: ${file}`));
  assert.deepEqual(fake.state.shown[0].options, { viewColumn: ViewColumn.Beside, preview: true, preserveFocus: true });
  assert.ok(calls(python).includes(`-m torch_lsp summary ${file}`));
  assert.equal(fake.state.messages.length, 0);

  // Unsaved changes: a copy of the editor's text is summarised.
  fake.state.activeEditor = { document: { uri: Uri.parse('untitled:Untitled-1'), languageId: 'python', isDirty: true,
    getText: () => 'class M: pass\n' } };
  await fake.state.commands.get(COMMANDS.showSummary)!();
  assert.match(fake.state.opened[1].content!, /unsaved changes/);
  assert.match(fake.state.opened[1].content!, /ARGS: .*torch-lsp-summary-.*untitled\.py/);
  assert.equal(fake.state.opened[1].uri?.path, '/untitled.py (model summary)');

  // The same file again: the same document, with the new content (the provider is asked again).
  fake.state.activeEditor = { document: { uri: Uri.file(file), languageId: 'python', isDirty: false, getText: () => 'x' } };
  await fake.state.commands.get(COMMANDS.showSummary)!();
  assert.equal(fake.state.opened[2].uri?.toString(), fake.state.opened[0].uri?.toString());
  const provider = fake.state.contentProviders.get('torch-lsp-summary')!;
  assert.equal(provider.provideTextDocumentContent(fake.state.opened[0].uri!), fake.state.opened[2].content);
});

test('Show Model Summary with an interpreter without torch-lsp: the fix in an error message', async () => {
  const missing = fakePython(dir, { name: 'python-without', installed: false });
  fake.state.user['torch-lsp.interpreter'] = missing;
  await start();
  fake.state.messages.length = 0;
  const file = path.join(dir, 'm.py');
  fs.writeFileSync(file, 'import torch\n');
  fake.state.activeEditor = { document: { uri: Uri.file(file), languageId: 'python', isDirty: false, getText: () => '' } };
  await fake.state.commands.get(COMMANDS.showSummary)!();
  assert.match(fake.state.opened[0].content!, /Failed: No module named torch_lsp/);
  assert.deepEqual(fake.state.messages.map((m) => [m.kind, m.message]),
    [['error', `torch-lsp is not installed for ${missing} and this build of the extension has no bundled server: `
      + "install the extension's .vsix (`npm run package` in editors/vscode of a torch-lsp clone), "
      + `or install torch-lsp from a clone for this interpreter (\`${missing} -m pip install <clone>\`)`]]);
});

test('Show Model Summary without a Python editor: a warning', async () => {
  await start();
  fake.state.activeEditor = undefined;
  await fake.state.commands.get(COMMANDS.showSummary)!();
  assert.equal(fake.state.opened.length, 0);
  assert.equal(fake.state.messages[0].kind, 'warning');
});

test('deactivate stops the client and disposes the commands', async () => {
  await start();
  const client = lastClient();
  await deactivate();
  assert.equal(client.state, State.Stopped);
  assert.equal(fake.state.commands.size, 0);
  assert.ok(fake.statusItem!.disposed);
});

test('the bundled server: the launcher runs with the interpreter, which needs no torch-lsp of its own', async () => {
  const launcher = fakeBundle(extDir);
  const bare = fakePython(dir, { name: 'python-bare', installed: false });
  fake.state.user['torch-lsp.interpreter'] = bare;
  const api = await start();
  assert.equal(api.status(), 'running');
  assert.deepEqual(fake.state.messages, []);
  const client = lastClient();
  assert.equal(client.serverOptions.command, bare);
  assert.deepEqual(client.serverOptions.args, [launcher, 'serve']);
  assert.equal(client.serverOptions.options.env.TORCH_LSP_IMPORT_STRATEGY, 'useBundled');
  assert.deepEqual(calls(bare), [`${launcher} --version`]);
  assert.deepEqual(strategies(bare), ['useBundled']);
  assert.match(fake.output!.text, /Server: the one bundled with the extension \(torch-lsp.importStrategy: useBundled\)/);
  assert.match(fake.output!.text, /Server version: torch-lsp 0\.1\.0/);

  // The summary runs the bundled torch-lsp too.
  const file = path.join(dir, 'm.py');
  fs.writeFileSync(file, 'import torch\n');
  fake.state.activeEditor = { document: { uri: Uri.file(file), languageId: 'python', isDirty: false, getText: () => '' } };
  await fake.state.commands.get(COMMANDS.showSummary)!();
  assert.ok(calls(bare).includes(`${launcher} summary ${file}`));
  assert.match(fake.state.opened[0].content!, new RegExp(`ARGS: ${file}`));

  // torch-lsp.importStrategy: a restart, and the launcher told to prefer the environment's torch-lsp.
  fake.setConfig({ 'torch-lsp.importStrategy': 'fromEnvironment' });
  await until(() => clients.length === 2 && api.status() === 'running', 'the restart');
  assert.equal(clients[0].state, State.Stopped);
  assert.equal(lastClient().serverOptions.options.env.TORCH_LSP_IMPORT_STRATEGY, 'fromEnvironment');
  assert.equal(strategies(bare).at(-1), 'fromEnvironment');
  await until(() => lastClient().notifications.length === 1, 'the start-up settings sent');
});

test('the bundled server and a Python older than 3.10: the launcher says so', async () => {
  fakeBundle(extDir);
  const old = fakePython(dir, { name: 'python3.9', tooOld: true });
  fake.state.user['torch-lsp.interpreter'] = old;
  const api = await start();
  assert.equal(clients.length, 0);
  assert.equal(api.status(), 'failed');
  const [err] = fake.state.messages;
  assert.equal(err.kind, 'error');
  assert.match(err.message, /lsp_server\.py --version` failed \(torch-lsp needs Python 3\.10 or newer; .*python3\.9 is Python 3\.9/);
  assert.deepEqual(err.items, ['Open settings', 'Show output']);
});

test('changing the interpreter while the server runs: a clean restart, nothing sent to the stopping client', async () => {
  const api = await start();
  const first = lastClient();
  await sleep(20);  // the start-up settings went out
  first.notifications.length = 0;
  const second = fakePython(dir, { name: 'python-b' });
  // VS Code tells both the extension (restart) and the client (synchronize.configurationSection) of the change.
  fake.setConfig({ 'torch-lsp.interpreter': second });
  await until(() => clients.length === 2 && api.status() === 'running', 'the restart');
  await sleep(20);
  assert.equal(first.state, State.Stopped);
  assert.deepEqual(first.notifications, [], 'nothing is sent to the client being stopped');
  assert.deepEqual(fake.state.messages, [], 'no "Sending notification workspace/didChangeConfiguration failed"');
  assert.equal(lastClient().serverOptions.command, second);
  // The new client got the settings at its start.
  assert.equal(lastClient().notifications.filter((n) => n.method === 'workspace/didChangeConfiguration').length, 1);

  // Another setting: sent to the running client, no restart.
  fake.setConfig({ 'torch-lsp.inlayHints': false });
  await until(() => lastClient().notifications.length === 2, 'the settings sent');
  assert.equal(lastClient().notifications[1].params.settings['torch-lsp'].inlayHints, false);
  assert.equal(clients.length, 2);
  assert.deepEqual(fake.state.messages, []);
});

test("an untrusted workspace's interpreter setting: ignored, and said once", async () => {
  fake.state.trusted = false;
  const theirs = fakePython(dir, { name: 'python-workspace' });
  fake.state.workspace['torch-lsp.interpreter'] = theirs;
  fake.state.answer = 'Manage Workspace Trust';
  const api = await start();
  assert.equal(lastClient().serverOptions.command, python, "the user's setting, not the workspace's");
  assert.deepEqual(calls(theirs), []);
  const infos = fake.state.messages.filter((m) => m.kind === 'info');
  assert.equal(infos.length, 1);
  assert.equal(infos[0].message, `torch-lsp: this workspace is not trusted, so its torch-lsp.interpreter setting `
    + `(${theirs}) is ignored (it would run a program the workspace names); the server runs with ${python}. `
    + 'Trust the workspace to use its interpreter.');
  await fake.settled();
  assert.deepEqual(fake.state.executed.at(-1), ['workbench.trust.manage']);
  assert.match(fake.output!.text, /is ignored/);
  await api.restart();
  assert.equal(fake.state.messages.filter((m) => m.kind === 'info').length, 1, 'once per window');
});

test("an untrusted workspace's interpreter in .vscode/settings.json (not reported by inspect) is said too", async () => {
  fake.state.trusted = false;
  const ws = path.join(dir, 'ws');
  fs.mkdirSync(path.join(ws, '.vscode'), { recursive: true });
  fs.writeFileSync(path.join(ws, '.vscode', 'settings.json'), '{\n  // mine\n  "torch-lsp.interpreter": "${workspaceFolder}/.venv/bin/python"\n}\n');
  fake.state.folders.push({ uri: Uri.file(ws), name: 'ws', index: 0 });
  await start();
  const [info] = fake.state.messages.filter((m) => m.kind === 'info');
  assert.match(info.message, /torch-lsp.interpreter setting \(\$\{workspaceFolder\}\/\.venv\/bin\/python\) is ignored/);
});

test('a trusted workspace, or no workspace interpreter: no notice', async () => {
  fake.state.workspace['torch-lsp.interpreter'] = python;
  await start();
  assert.deepEqual(fake.state.messages, []);
});

test("the server's clean exit is logged as information, other exits stay errors", async () => {
  assert.equal(cleanExitAsInfo('[Error - 10:00:00 AM] Server process exited with code 0.'),
    '[Info  - 10:00:00 AM] Server process exited with code 0.');
  assert.equal(cleanExitAsInfo('[Error - 10:00:00] Server process exited with code 1.'),
    '[Error - 10:00:00] Server process exited with code 1.');
  assert.equal(cleanExitAsInfo('[Error - 10:00:00] Server process exited with signal SIGKILL.'),
    '[Error - 10:00:00] Server process exited with signal SIGKILL.');
  await start();
  const out = lastClient().clientOptions.outputChannel;
  out.appendLine('[Error - 10:00:00] Server process exited with code 0.');
  out.appendLine('[Error - 10:00:01] Server process exited with code 2.');
  assert.match(fake.output!.text, /\[Info {2}- 10:00:00\] Server process exited with code 0\.\n/);
  assert.match(fake.output!.text, /\[Error - 10:00:01\] Server process exited with code 2\.\n/);
  assert.equal(out.name, 'torch-lsp');
});

test('package.json: the unsafeFixes setting says what it does, importStrategy is declared', () => {
  const props = pkg.contributes.configuration.properties as Record<string, any>;
  const unsafe = String(props['torch-lsp.unsafeFixes'].markdownDescription);
  assert.match(unsafe, /Fix all torch-lsp problems/);
  assert.match(unsafe, /source\.fixAll\.torch-lsp/);
  assert.match(unsafe, /always offer every fix/);
  assert.doesNotMatch(unsafe, /as quick fixes/);
  assert.deepEqual(props['torch-lsp.importStrategy'].enum, ['useBundled', 'fromEnvironment']);
  assert.equal(props['torch-lsp.importStrategy'].default, 'useBundled');
});
