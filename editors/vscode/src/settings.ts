// The `torch-lsp.*` settings -> the object the server reads (torch_lsp/server.py, ClientSettings).
// No `vscode` import here: the mapping is unit-tested with plain objects.

export const SECTION = 'torch-lsp';

export type LogLevel = 'error' | 'warning' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warning', 'info', 'debug'];

export interface RuntimeSettings {
  enabled: boolean;
  /** Only when set in VS Code: otherwise the project's `[tool.torch-lsp.runtime]` applies. */
  timeout?: number;
  memoryMb?: number;
  reportSkipped?: boolean;
  maxEntryPoints?: number;
}

/** The server's camelCase shape (initializationOptions, workspace/configuration, didChangeConfiguration). */
export interface ServerSettings {
  /** null: not set here, the project's `select` applies (an empty list would select no rule). */
  select: string[] | null;
  ignore: string[] | null;
  extendSelect: string[];
  extendIgnore: string[];
  inlayHints: boolean;
  reportSyntaxErrors: boolean;
  unsafeFixes: boolean;
  logLevel: LogLevel;
  /** Documents larger than this (bytes, lines) are not analysed; 0: no limit. */
  maxFileSize: number;
  maxFileLines: number;
  runtime: RuntimeSettings;
  workspaceTrusted: boolean;
}

export interface InspectLike {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
  globalLanguageValue?: unknown;
  workspaceLanguageValue?: unknown;
  workspaceFolderLanguageValue?: unknown;
}

/** What `vscode.workspace.getConfiguration('torch-lsp')` offers (a subset), or a plain stand-in. */
export interface ConfigurationLike {
  get<T>(key: string): T | undefined;
  inspect?(key: string): InspectLike | undefined;
}

/** A plain object `{select: [...], "runtime.enabled": true, runtime: {timeout: 3}}` as a ConfigurationLike. */
export function plainConfiguration(values: Record<string, unknown>): ConfigurationLike {
  const lookup = (key: string): unknown => {
    if (key in values) return values[key];
    let node: unknown = values;
    for (const part of key.split('.')) {
      if (node === null || typeof node !== 'object' || !(part in (node as object))) return undefined;
      node = (node as Record<string, unknown>)[part];
    }
    return node;
  };
  return { get: <T>(key: string) => lookup(key) as T | undefined };
}

function isSetByUser(config: ConfigurationLike, key: string): boolean {
  if (!config.inspect) return config.get(key) !== undefined;
  const i = config.inspect(key);
  if (!i) return false;
  return [i.globalValue, i.workspaceValue, i.workspaceFolderValue, i.globalLanguageValue,
    i.workspaceLanguageValue, i.workspaceFolderLanguageValue].some((v) => v !== undefined);
}

function codes(value: unknown): string[] {
  if (typeof value === 'string') value = [value];
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is string => typeof v === 'string').map((v) => v.trim()).filter((v) => v !== '');
}

function bool(value: unknown, fallback: boolean): boolean {
  return typeof value === 'boolean' ? value : fallback;
}

function limit(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.round(value) : fallback;
}

function positive(value: unknown, integer: boolean): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) return undefined;
  return integer ? Math.max(1, Math.round(value)) : value;
}

/**
 * Read the settings into the server's shape. `trusted` is `vscode.workspace.isTrusted`: runtime
 * evaluation executes the workspace's code, so it is sent as disabled in an untrusted workspace
 * (the server checks `workspaceTrusted` as well).
 */
export function readSettings(config: ConfigurationLike, trusted: boolean): ServerSettings {
  const select = codes(config.get('select'));
  const ignore = codes(config.get('ignore'));
  const level = config.get<string>('logLevel');
  const runtime: RuntimeSettings = { enabled: trusted && config.get('runtime.enabled') === true };
  if (isSetByUser(config, 'runtime.timeout')) {
    const t = positive(config.get('runtime.timeout'), false);
    if (t !== undefined) runtime.timeout = t;
  }
  if (isSetByUser(config, 'runtime.memoryMb')) {
    const m = positive(config.get('runtime.memoryMb'), true);
    if (m !== undefined) runtime.memoryMb = m;
  }
  if (isSetByUser(config, 'runtime.reportSkipped')) {
    const r = config.get('runtime.reportSkipped');
    if (typeof r === 'boolean') runtime.reportSkipped = r;
  }
  if (isSetByUser(config, 'runtime.maxEntryPoints')) {
    const n = config.get('runtime.maxEntryPoints');
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0) runtime.maxEntryPoints = n;
  }
  return {
    select: select.length ? select : null,
    ignore: ignore.length ? ignore : null,
    extendSelect: codes(config.get('extendSelect')),
    extendIgnore: codes(config.get('extendIgnore')),
    inlayHints: bool(config.get('inlayHints'), true),
    reportSyntaxErrors: bool(config.get('reportSyntaxErrors'), true),
    unsafeFixes: bool(config.get('unsafeFixes'), false),
    logLevel: typeof level === 'string' && (LOG_LEVELS as readonly string[]).includes(level.toLowerCase())
      ? (level.toLowerCase() as LogLevel) : 'info',
    maxFileSize: limit(config.get('maxFileSize'), 2000000),
    maxFileLines: limit(config.get('maxFileLines'), 100000),
    runtime,
    workspaceTrusted: trusted,
  };
}

/** True when `runtime.enabled` is set but held off by an untrusted workspace. */
export function runtimeBlockedByTrust(config: ConfigurationLike, trusted: boolean): boolean {
  return !trusted && config.get('runtime.enabled') === true;
}
