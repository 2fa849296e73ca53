import assert from 'node:assert/strict';
import { test } from 'node:test';

import pkg from '../package.json';
import { plainConfiguration, readSettings, runtimeBlockedByTrust, ServerSettings } from '../src/settings';

const DEFAULTS: ServerSettings = {
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

type Prop = { default?: unknown; type?: string | string[]; enum?: unknown[]; description?: string; markdownDescription?: string };
const props = pkg.contributes.configuration.properties as Record<string, Prop>;
const packageDefaults = Object.fromEntries(Object.entries(props).map(([k, v]) => [k.replace(/^torch-lsp\./, ''), v.default]));

test('nothing set: the defaults', () => {
  assert.deepEqual(readSettings(plainConfiguration({}), true), DEFAULTS);
});

test("package.json's defaults give the same object (the runtime limits are left to the project)", () => {
  assert.deepEqual(readSettings(plainConfiguration(packageDefaults), true), {
    ...DEFAULTS,
    // A plain object cannot tell a default from a user value: the limits are sent.
    runtime: { enabled: false, timeout: 10, memoryMb: 2048, reportSkipped: false, maxEntryPoints: 8 },
  });
  // With `inspect` (as in VS Code) a default is not "set by the user": the project's
  // [tool.torch-lsp.runtime] keeps its say.
  const config = {
    get: <T>(key: string) => packageDefaults[key] as T,
    inspect: (_key: string) => ({ globalValue: undefined }),
  };
  assert.deepEqual(readSettings(config, true), DEFAULTS);
});

test('every setting is contributed with a description and a default', () => {
  const expected = ['interpreter', 'importStrategy', 'select', 'ignore', 'extendSelect', 'extendIgnore', 'inlayHints', 'reportSyntaxErrors',
    'unsafeFixes', 'logLevel', 'maxFileSize', 'maxFileLines', 'runtime.enabled', 'runtime.timeout', 'runtime.memoryMb', 'runtime.reportSkipped',
    'runtime.maxEntryPoints',
    'trace.server'].map((k) => `torch-lsp.${k}`);
  assert.deepEqual(Object.keys(props).sort(), [...expected].sort());
  for (const [key, p] of Object.entries(props)) {
    assert.ok(p.description || p.markdownDescription, `${key} has no description`);
    assert.ok('default' in p, `${key} has no default`);
  }
  assert.deepEqual(props['torch-lsp.logLevel'].enum, ['error', 'warning', 'info', 'debug']);
  assert.deepEqual(props['torch-lsp.trace.server'].enum, ['off', 'messages', 'verbose']);
  assert.equal(props['torch-lsp.trace.server'].default, 'off');
  assert.equal(props['torch-lsp.interpreter'].default, '');
});

test('every key is in the server camelCase shape', () => {
  const s = readSettings(plainConfiguration({
    select: ['TL1', 'TL201'], ignore: ['TL3'], extendSelect: ['TL9'], extendIgnore: ['TL902'],
    inlayHints: false, reportSyntaxErrors: false, unsafeFixes: true, logLevel: 'debug',
    maxFileSize: 500000, maxFileLines: 0,
    runtime: { enabled: true, timeout: 2.5, memoryMb: 512, reportSkipped: true, maxEntryPoints: 0 },
  }), true);
  assert.deepEqual(s, {
    select: ['TL1', 'TL201'], ignore: ['TL3'], extendSelect: ['TL9'], extendIgnore: ['TL902'],
    inlayHints: false, reportSyntaxErrors: false, unsafeFixes: true, logLevel: 'debug',
    maxFileSize: 500000, maxFileLines: 0,
    runtime: { enabled: true, timeout: 2.5, memoryMb: 512, reportSkipped: true, maxEntryPoints: 0 },
    workspaceTrusted: true,
  });
  // JSON round trip: what goes over the wire.
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
});

test('dotted keys as VS Code gives them', () => {
  const s = readSettings(plainConfiguration({ 'runtime.enabled': true, 'runtime.timeout': 3 }), true);
  assert.deepEqual(s.runtime, { enabled: true, timeout: 3 });
});

test('an empty select/ignore is "not set" (the project decides), not "no rule"', () => {
  const s = readSettings(plainConfiguration({ select: [], ignore: ['  '] }), true);
  assert.equal(s.select, null);
  assert.equal(s.ignore, null);
});

test('untrusted workspace: runtime evaluation is sent disabled, and the trust flag is sent', () => {
  const config = plainConfiguration({ runtime: { enabled: true, timeout: 5 } });
  const s = readSettings(config, false);
  assert.equal(s.runtime.enabled, false);
  assert.equal(s.runtime.timeout, 5);
  assert.equal(s.workspaceTrusted, false);
  assert.equal(runtimeBlockedByTrust(config, false), true);
  assert.equal(runtimeBlockedByTrust(config, true), false);
  assert.equal(readSettings(config, true).runtime.enabled, true);
});

test('wrong types fall back to the defaults', () => {
  const s = readSettings(plainConfiguration({
    select: 'TL1', ignore: [1, 'TL2', null], extendSelect: 7, inlayHints: 'yes', logLevel: 'LOUD',
    unsafeFixes: 1, runtime: { enabled: 'true', timeout: -1, memoryMb: 100.4, reportSkipped: 'no', maxEntryPoints: -2 },
  }), true);
  assert.deepEqual(s.select, ['TL1']);
  assert.deepEqual(s.ignore, ['TL2']);
  assert.deepEqual(s.extendSelect, []);
  assert.equal(s.inlayHints, true);
  assert.equal(s.logLevel, 'info');
  assert.equal(s.unsafeFixes, false);
  assert.deepEqual(s.runtime, { enabled: false, memoryMb: 100 });
  assert.equal(readSettings(plainConfiguration({ logLevel: 'WARNING' }), true).logLevel, 'warning');
});

test('a runtime limit set by the user (inspect) is sent', () => {
  const user: Record<string, unknown> = { 'runtime.timeout': 30 };
  const config = {
    get: <T>(key: string) => (key in user ? user[key] : packageDefaults[key]) as T,
    inspect: (key: string) => ({ defaultValue: packageDefaults[key], workspaceValue: user[key] }),
  };
  assert.deepEqual(readSettings(config, true).runtime, { enabled: false, timeout: 30 });
});
