// A small stand-in for the `vscode` module: what src/ touches, plus `fake` to drive and inspect it.
// Setting defaults come from package.json, as in VS Code.
import * as path from 'node:path';

import pkg from '../../package.json';

type Listener<T> = (e: T) => unknown;

export class Disposable {
  constructor(private readonly fn: () => unknown = () => undefined) {}
  dispose(): void {
    this.fn();
  }
}

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.push(listener);
    return new Disposable(() => { this.listeners = this.listeners.filter((l) => l !== listener); });
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  dispose(): void {
    this.listeners = [];
  }
  get size(): number {
    return this.listeners.length;
  }
}

export class Uri {
  private constructor(readonly scheme: string, readonly path: string) {}
  static file(p: string): Uri {
    return new Uri('file', path.resolve(p));
  }
  static from(parts: { scheme: string; path: string }): Uri {
    return new Uri(parts.scheme, parts.path);
  }
  static parse(s: string): Uri {
    const m = /^([a-z][a-z0-9+.-]*):(?:\/\/)?(.*)$/i.exec(s);
    if (!m) return new Uri('file', s);
    return new Uri(m[1], m[1] === 'file' ? decodeURIComponent(m[2]) : m[2]);
  }
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return this.scheme === 'file' ? `file://${this.path}` : `${this.scheme}:${this.path}`;
  }
}

export enum StatusBarAlignment { Left = 1, Right = 2 }
export enum ViewColumn { Active = -1, Beside = -2, One = 1, Two = 2 }
export enum ProgressLocation { SourceControl = 1, Window = 10, Notification = 15 }

export class ThemeColor {
  constructor(readonly id: string) {}
}

// ------------------------------------------------------------------ configuration
type Props = Record<string, { default?: unknown }>;
const properties = (pkg.contributes.configuration.properties as Props);
export const defaults: Record<string, unknown> = Object.fromEntries(
  Object.entries(properties).map(([k, v]) => [k, v.default]));
/** Settings VS Code takes only from the user, not the workspace, while the workspace is not trusted. */
const restricted: string[] = pkg.capabilities.untrustedWorkspaces.restrictedConfigurations;

export class FakeStatusBarItem {
  text = '';
  tooltip: string | undefined;
  command: string | undefined;
  name: string | undefined;
  backgroundColor: ThemeColor | undefined;
  visible = false;
  disposed = false;
  constructor(readonly id: string, readonly alignment: StatusBarAlignment, readonly priority: number) {}
  show(): void { this.visible = true; }
  hide(): void { this.visible = false; }
  dispose(): void { this.disposed = true; }
}

export class FakeOutputChannel {
  lines: string[] = [];
  shown = 0;
  constructor(readonly name: string) {}
  append(s: string): void { this.lines.push(s); }
  appendLine(s: string): void { this.lines.push(`${s}\n`); }
  show(): void { this.shown++; }
  clear(): void { this.lines = []; }
  hide(): void {}
  replace(s: string): void { this.lines = [s]; }
  dispose(): void {}
  get text(): string { return this.lines.join(''); }
}

export interface FakeDocument {
  uri: Uri;
  languageId: string;
  isDirty: boolean;
  getText(): string;
}

export interface ShownMessage {
  kind: 'error' | 'warning' | 'info';
  message: string;
  items: string[];
}

function freshState() {
  return {
    /** Values the user set (`torch-lsp.runtime.enabled` -> true); the rest are package.json defaults. */
    user: {} as Record<string, unknown>,
    /** Values set in the workspace's settings (.vscode/settings.json): they win over `user`. */
    workspace: {} as Record<string, unknown>,
    contentProviders: new Map<string, { provideTextDocumentContent(uri: Uri): string; onDidChange?: unknown }>(),
    trusted: true,
    folders: [] as { uri: Uri; name: string; index: number }[],
    commands: new Map<string, (...args: unknown[]) => unknown>(),
    executed: [] as unknown[][],
    statusItems: [] as FakeStatusBarItem[],
    outputs: [] as FakeOutputChannel[],
    messages: [] as ShownMessage[],
    /** The button the next messages "click" (undefined: dismissed). */
    answer: undefined as string | undefined,
    answered: [] as Promise<unknown>[],
    clipboard: '',
    /** vscode.env.remoteName: set in a remote window (code-server, Remote SSH...). */
    remoteName: undefined as string | undefined,
    activeEditor: undefined as { document: FakeDocument } | undefined,
    opened: [] as { uri?: Uri; language?: string; content?: string }[],
    shown: [] as { document: unknown; options: unknown }[],
    extensions: new Map<string, unknown>(),
    onConfig: new EventEmitter<{ affectsConfiguration(section: string): boolean }>(),
    onTrust: new EventEmitter<void>(),
  };
}

export const fake = {
  state: freshState(),
  reset(): void {
    this.state = freshState();
  },
  /** Set user values and fire onDidChangeConfiguration for them. */
  setConfig(values: Record<string, unknown>): void {
    Object.assign(this.state.user, values);
    const keys = Object.keys(values);
    this.state.onConfig.fire({
      affectsConfiguration: (section: string) => keys.some((k) => k === section || k.startsWith(`${section}.`)),
    });
  },
  grantTrust(): void {
    this.state.trusted = true;
    this.state.onTrust.fire();
  },
  get statusItem(): FakeStatusBarItem | undefined {
    return this.state.statusItems[0];
  },
  get output(): FakeOutputChannel | undefined {
    return this.state.outputs[0];
  },
  /** Wait for the buttons "clicked" on the messages shown so far. */
  async settled(): Promise<void> {
    await Promise.all(this.state.answered);
  },
};

function configuration(section: string | undefined) {
  const full = (key: string) => (section ? `${section}.${key}` : key);
  return {
    get<T>(key: string, fallback?: T): T | undefined {
      const k = full(key);
      if (k in fake.state.workspace && (fake.state.trusted || !restricted.includes(k))) return fake.state.workspace[k] as T;
      if (k in fake.state.user) return fake.state.user[k] as T;
      if (k in defaults) return defaults[k] as T;
      return fallback;
    },
    has(key: string): boolean {
      const k = full(key);
      return k in fake.state.user || k in defaults;
    },
    inspect(key: string) {
      const k = full(key);
      if (!(k in defaults) && !(k in fake.state.user)) return undefined;
      return { key: k, defaultValue: defaults[k], globalValue: fake.state.user[k], workspaceValue: fake.state.workspace[k] };
    },
    async update(key: string, value: unknown): Promise<void> {
      fake.setConfig({ [full(key)]: value });
    },
  };
}

export const workspace = {
  getConfiguration: (section?: string, _scope?: unknown) => configuration(section),
  get isTrusted(): boolean {
    return fake.state.trusted;
  },
  get workspaceFolders() {
    return fake.state.folders.length ? fake.state.folders : undefined;
  },
  getWorkspaceFolder(uri: Uri) {
    return fake.state.folders.find((f) => uri.fsPath === f.uri.fsPath || uri.fsPath.startsWith(f.uri.fsPath + path.sep));
  },
  onDidChangeConfiguration: (l: Listener<{ affectsConfiguration(section: string): boolean }>) => fake.state.onConfig.event(l),
  onDidGrantWorkspaceTrust: (l: Listener<void>) => fake.state.onTrust.event(l),
  registerTextDocumentContentProvider(scheme: string, provider: { provideTextDocumentContent(uri: Uri): string }) {
    if (fake.state.contentProviders.has(scheme)) throw new Error(`a provider for '${scheme}' exists`);
    fake.state.contentProviders.set(scheme, provider);
    return new Disposable(() => fake.state.contentProviders.delete(scheme));
  },
  async openTextDocument(options: Uri | { language?: string; content?: string }) {
    if (options instanceof Uri) {
      const provider = fake.state.contentProviders.get(options.scheme);
      if (!provider) throw new Error(`no provider for ${options.toString()}`);
      const content = provider.provideTextDocumentContent(options);
      fake.state.opened.push({ uri: options, content });
      return { uri: options, getText: () => content };
    }
    fake.state.opened.push(options);
    return { uri: Uri.parse(`untitled:Untitled-${fake.state.opened.length}`), languageId: options.language,
      getText: () => options.content ?? '' };
  },
};

function message(kind: ShownMessage['kind']) {
  return (msg: string, ...items: unknown[]): Promise<string | undefined> => {
    const labels = items.filter((i): i is string => typeof i === 'string');
    fake.state.messages.push({ kind, message: msg, items: labels });
    const answer = fake.state.answer !== undefined && labels.includes(fake.state.answer) ? fake.state.answer : undefined;
    const p = Promise.resolve(answer);
    // Let whatever the caller chains on the answer run before `settled()` resolves.
    fake.state.answered.push(p.then(() => new Promise((r) => setTimeout(r, 10))));
    return p;
  };
}

export const window = {
  createOutputChannel(name: string) {
    const c = new FakeOutputChannel(name);
    fake.state.outputs.push(c);
    return c;
  },
  createStatusBarItem(id: string, alignment: StatusBarAlignment, priority: number) {
    const item = new FakeStatusBarItem(id, alignment, priority);
    fake.state.statusItems.push(item);
    return item;
  },
  showErrorMessage: message('error'),
  showWarningMessage: message('warning'),
  showInformationMessage: message('info'),
  get activeTextEditor() {
    return fake.state.activeEditor;
  },
  async showTextDocument(document: unknown, options: unknown) {
    fake.state.shown.push({ document, options });
    return { document };
  },
  async withProgress<R>(_options: unknown, task: (progress: unknown, token: unknown) => Promise<R>): Promise<R> {
    return task({ report: () => undefined }, { isCancellationRequested: false });
  },
};

export const commands = {
  registerCommand(id: string, fn: (...args: unknown[]) => unknown) {
    if (fake.state.commands.has(id)) throw new Error(`command '${id}' already exists`);
    fake.state.commands.set(id, fn);
    return new Disposable(() => fake.state.commands.delete(id));
  },
  async executeCommand(id: string, ...args: unknown[]) {
    fake.state.executed.push([id, ...args]);
    const fn = fake.state.commands.get(id);
    return fn ? fn(...args) : undefined;
  },
};

export const env = {
  get remoteName(): string | undefined {
    return fake.state.remoteName;
  },
  clipboard: {
    async writeText(text: string) { fake.state.clipboard = text; },
    async readText() { return fake.state.clipboard; },
  },
};

export const extensions = {
  getExtension(id: string) {
    return fake.state.extensions.get(id);
  },
};

/** An ExtensionContext for `activate`. */
export function makeContext(extensionPath: string) {
  return {
    subscriptions: [] as { dispose(): unknown }[],
    extensionPath,
    extensionUri: Uri.file(extensionPath),
  };
}
