// activate() against the fake `vscode` and a fake LanguageClient; the "interpreters" are shell scripts.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';

import { activate, COMMANDS, deactivate, TorchLspApi } from '../src/extension';
import { behaviour, clients, LanguageClient, State, TransportKind } from './fakes/languageclient';
import { EventEmitter, fake, makeContext, Uri, ViewColumn } from './fakes/vscode';
import { calls, fakePython, tempDir, until } from './helpers';

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
  extDir = path.join(dir, 'extension');
  fs.mkdirSync(extDir);
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
  ]);
  assert.deepEqual(client.clientOptions.initializationOptions, EXPECTED_DEFAULTS);
  assert.equal(client.clientOptions.synchronize.configurationSection, 'torch-lsp');
  assert.equal(client.clientOptions.outputChannel, fake.output);
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
  fake.setConfig({ 'torch-lsp.inlayHints': false });
  await client.configurationChanged();
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

test('torch-lsp missing: an error message with the fix, no client, the status bar in error', async () => {
  const missing = fakePython(dir, { name: 'python-without', installed: false });
  fake.state.user['torch-lsp.interpreter'] = missing;
  fake.state.answer = 'Copy command';
  const api = await start();
  assert.equal(clients.length, 0);
  assert.equal(api.status(), 'not-installed');
  const errors = fake.state.messages.filter((m) => m.kind === 'error');
  assert.equal(errors.length, 1);
  assert.equal(errors[0].message, `torch-lsp is not installed for ${missing}: run \`${missing} -m pip install torch-lsp\``);
  assert.deepEqual(errors[0].items, ['Copy command', 'Open settings']);
  await fake.settled();
  assert.equal(fake.state.clipboard, `${missing} -m pip install torch-lsp`);
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
  assert.deepEqual(fake.state.executed.at(-1), ['workbench.action.openSettings', 'torch-lsp.interpreter']);

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

test('Show Model Summary: the summary of the active file beside it, as plain text', async () => {
  await start();
  const file = path.join(dir, 'lenet.py');
  fs.writeFileSync(file, 'import torch\n');
  fake.state.activeEditor = { document: { uri: Uri.file(file), languageId: 'python', isDirty: false, getText: () => 'x' } };
  await fake.state.commands.get(COMMANDS.showSummary)!();
  assert.equal(fake.state.opened.length, 1);
  const doc = fake.state.opened[0];
  assert.equal(doc.language, 'plaintext');
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
    [['error', `torch-lsp is not installed for ${missing}: run \`${missing} -m pip install torch-lsp\``]]);
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
