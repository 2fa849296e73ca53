// torch-lsp for VS Code: starts the bundled server (`<interpreter> bundled/tool/lsp_server.py serve`) over stdio
// with vscode-languageclient.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  LanguageClient,
  LanguageClientOptions,
  ResponseError,
  ServerOptions,
  State,
  TransportKind,
} from 'vscode-languageclient/node';

import {
  bundledLauncher,
  checkCommand,
  chooseInterpreter,
  displayCommand,
  displayInterpreter,
  IMPORT_STRATEGY_ENV,
  importStrategy,
  ImportStrategy,
  installCommandLine,
  Interpreter,
  notInstalledMessage,
  PythonExtensionApi,
  pythonExtensionInterpreter,
  repositoryRoot,
  serverCommand,
  summaryCommand,
} from './interpreter';
import { checkInterpreter, CheckResult, run } from './process';
import { readSettings, runtimeBlockedByTrust, SECTION, ServerSettings } from './settings';
import { SUMMARY_SCHEME, summaryDocument, summaryPath } from './summary';

export const CLIENT_ID = 'torch-lsp';
/** `<publisher>.<name>` in package.json. */
export const EXTENSION_ID = 'torch-lsp.torch-lsp';
/** What "Open settings" searches for: this extension's settings (a setting id alone showed an empty User tab). */
export const SETTINGS_QUERY = `@ext:${EXTENSION_ID}`;
/** Python files, and the Python cells of notebooks (synced as notebook documents when the server supports it). */
export const DOCUMENT_SELECTOR = [
  { scheme: 'file', language: 'python' },
  { scheme: 'untitled', language: 'python' },
  { notebook: '*', language: 'python' },
];

/**
 * vscode-languageclient logs every exit of the server process as an error, also the clean exit (code 0)
 * that follows the shutdown/exit handshake of a restart or of closing the window: shown as information.
 * The server exits with 0 only after `shutdown` + `exit` (1 for an `exit` without `shutdown`).
 */
export function cleanExitAsInfo(line: string): string {
  return line.replace(/^\[Error - ([^\]]*)\] (Server process exited with code 0\.)$/, '[Info  - $1] $2');
}

/** The output channel as the client sees it: the same channel, with cleanExitAsInfo applied. */
function clientOutput(channel: vscode.OutputChannel): vscode.OutputChannel {
  return new Proxy(channel, {
    get(target, prop, receiver) {
      if (prop === 'appendLine') return (line: string) => target.appendLine(cleanExitAsInfo(line));
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
export const PYTHON_EXTENSION_ID = 'ms-python.python';
export const COMMANDS = {
  restart: 'torch-lsp.restart',
  showOutput: 'torch-lsp.showOutput',
  showSummary: 'torch-lsp.showSummary',
} as const;

export type Status = 'starting' | 'running' | 'stopped' | 'failed' | 'not-installed';

/** What `activate` returns (the extension's `exports`): for tests and other extensions. */
export interface TorchLspApi {
  /** Settles when the current (re)start attempt is done, whatever its outcome. */
  readonly ready: Promise<void>;
  status(): Status;
  interpreter(): string[] | undefined;
  settings(): ServerSettings;
  restart(): Promise<void>;
}

const STATUS_ICON: Record<Status, string> = {
  starting: '$(sync~spin)',
  running: '$(check)',
  stopped: '$(error)',
  failed: '$(error)',
  'not-installed': '$(error)',
};

const STATUS_WORDS: Record<Status, string> = {
  starting: 'starting',
  running: 'running',
  stopped: 'stopped',
  failed: 'failed',
  'not-installed': 'not installed for this interpreter',
};

class TorchLsp implements vscode.Disposable {
  private readonly output: vscode.OutputChannel;
  private readonly statusItem: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private client: LanguageClient | undefined;
  private clientListener: vscode.Disposable | undefined;
  private interp: Interpreter | undefined;
  private state: Status = 'starting';
  private detail = '';
  private stopping = false;
  private queue: Promise<void> = Promise.resolve();
  private pythonApi: Promise<PythonExtensionApi | undefined> | undefined;
  private disposed = false;
  /** Restarts asked for and not yet past stopping the old client: no settings are sent to a client going away. */
  private pendingRestarts = 0;
  private untrustedNoticeShown = false;
  private readonly summaries = new Map<string, string>();
  private readonly summaryChanged = new vscode.EventEmitter<vscode.Uri>();

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('torch-lsp');
    this.statusItem = vscode.window.createStatusBarItem('torch-lsp.status', vscode.StatusBarAlignment.Right, 100);
    this.statusItem.name = 'torch-lsp';
    this.statusItem.command = COMMANDS.showOutput;
    this.disposables.push(this.output, this.statusItem);
    this.setStatus('starting');
    this.statusItem.show();

    this.disposables.push(
      this.summaryChanged,
      vscode.workspace.registerTextDocumentContentProvider(SUMMARY_SCHEME, {
        onDidChange: this.summaryChanged.event,
        provideTextDocumentContent: (uri) => this.summaries.get(uri.toString()) ?? '',
      }),
      vscode.commands.registerCommand(COMMANDS.restart, () => this.restart()),
      vscode.commands.registerCommand(COMMANDS.showOutput, () => this.output.show()),
      vscode.commands.registerCommand(COMMANDS.showSummary, () => this.showSummary()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        const changed = ['interpreter', 'importStrategy'].find((k) => e.affectsConfiguration(`${SECTION}.${k}`));
        if (changed) {
          this.log(`torch-lsp.${changed} changed: restarting`);
          void this.restart();
        } else if (e.affectsConfiguration(SECTION)) {
          this.updateTooltip();  // the client sends the new settings (synchronize.configurationSection)
        }
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.log('The workspace is now trusted: sending the settings again');
        this.updateTooltip();
        const client = this.client;
        if (client) void this.sendSettingsIfRunning(client);
      }),
    );
  }

  // ---------------------------------------------------------------- settings
  settings(scope?: vscode.Uri): ServerSettings {
    return readSettings(vscode.workspace.getConfiguration(SECTION, scope), vscode.workspace.isTrusted);
  }

  /**
   * workspace/didChangeConfiguration, only to the current client while it runs: a restart (the interpreter
   * changed) stops the client while VS Code still reports the change, and sending to a stopping client fails
   * with an error message ("Sending notification workspace/didChangeConfiguration failed"). The next client
   * gets the settings when it starts.
   */
  private async sendSettingsIfRunning(client: LanguageClient): Promise<void> {
    if (this.client !== client || this.pendingRestarts > 0 || this.stopping || client.state !== State.Running) return;
    try {
      await client.sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: this.settings() } });
    } catch (err) {
      this.log(`Could not send the settings: ${String(err)}`);
    }
  }

  private importStrategy(): ImportStrategy {
    return importStrategy(vscode.workspace.getConfiguration(SECTION).get('importStrategy'));
  }

  /** The environment of every torch-lsp process: the bundled launcher reads the import strategy from it. */
  private processEnv(): NodeJS.ProcessEnv {
    return { ...process.env, PYTHONIOENCODING: 'utf-8', [IMPORT_STRATEGY_ENV]: this.importStrategy() };
  }

  private launcher(): string | undefined {
    return bundledLauncher(this.context.extensionUri?.fsPath || this.context.extensionPath);
  }

  // ---------------------------------------------------------------- interpreter
  private getPythonApi(): Promise<PythonExtensionApi | undefined> {
    this.pythonApi ??= (async () => {
      const ext = vscode.extensions.getExtension<PythonExtensionApi>(PYTHON_EXTENSION_ID);
      if (!ext) return undefined;
      try {
        const api = ext.isActive ? ext.exports : await ext.activate();
        const onChange = api?.environments?.onDidChangeActiveEnvironmentPath;
        if (typeof onChange === 'function') {
          this.disposables.push(onChange.call(api.environments, () => this.pythonInterpreterChanged()));
        } else if (typeof api?.settings?.onDidChangeExecutionDetails === 'function') {
          this.disposables.push(api.settings.onDidChangeExecutionDetails(() => this.pythonInterpreterChanged()));
        }
        return api ?? undefined;
      } catch (err) {
        this.log(`The Python extension did not activate: ${String(err)}`);
        return undefined;
      }
    })();
    return this.pythonApi;
  }

  private pythonInterpreterChanged(): void {
    if (this.interpreterSetting()) return;  // torch-lsp.interpreter wins
    this.log('The Python extension\'s interpreter changed: restarting');
    void this.restart();
  }

  private interpreterSetting(): string {
    return vscode.workspace.getConfiguration(SECTION).get<string>('interpreter') ?? '';
  }

  private resource(): vscode.Uri | undefined {
    const doc = vscode.window.activeTextEditor?.document;
    if (doc && doc.languageId === 'python' && doc.uri.scheme === 'file') return doc.uri;
    return vscode.workspace.workspaceFolders?.[0]?.uri;
  }

  async resolveInterpreter(): Promise<Interpreter> {
    const resource = this.resource();
    const folder = (resource && vscode.workspace.getWorkspaceFolder(resource)) ?? vscode.workspace.workspaceFolders?.[0];
    const setting = this.interpreterSetting();
    let fromExtension: string[] | undefined;
    if (!setting.trim()) {
      fromExtension = await pythonExtensionInterpreter(await this.getPythonApi(), resource, (m) => this.log(m));
    }
    return chooseInterpreter(setting, fromExtension,
      { workspaceFolder: folder?.uri.fsPath, home: os.homedir(), env: process.env });
  }

  /**
   * The server, the check and the summary run in the extension's own folder, not the workspace:
   * `python -m` puts the working directory first on sys.path, so a workspace file named like a
   * module the server imports (json.py, types.py...) would shadow it, and run.
   */
  private neutralCwd(): string {
    return this.context.extensionUri?.fsPath || this.context.extensionPath || os.homedir();
  }

  // ---------------------------------------------------------------- lifecycle
  restart(): Promise<void> {
    this.pendingRestarts++;
    const next = this.queue.then(async () => {
      try {
        await this.stopClient();
      } finally {
        this.pendingRestarts--;
      }
      if (!this.disposed) await this.startClient();
    });
    this.queue = next.catch((err) => this.log(`Restart failed: ${String(err)}`));
    return this.queue;
  }

  get ready(): Promise<void> {
    return this.queue;
  }

  private async startClient(): Promise<void> {
    this.interp = undefined;
    this.setStatus('starting');
    const interp = await this.resolveInterpreter();
    this.interp = interp;
    const shown = displayInterpreter(interp);
    if (vscode.env.remoteName) this.log(`Remote window: ${vscode.env.remoteName}`);
    this.log(`Interpreter: ${shown} (${interp.source === 'setting' ? 'torch-lsp.interpreter'
      : interp.source === 'python-extension' ? 'the Python extension' : 'default'})`);
    this.noteIgnoredInterpreter(shown);
    const launcher = this.launcher();
    this.log(launcher ? `Server: the one bundled with the extension (torch-lsp.importStrategy: ${this.importStrategy()})`
      : 'Server: this build of the extension has none bundled: the interpreter\'s own torch-lsp (-m torch_lsp)');
    const check = await checkInterpreter(interp, { cwd: this.neutralCwd(), env: this.processEnv() }, run, launcher);
    if (this.disposed) return;
    if (!check.ok) {
      this.checkFailed(interp, check, launcher);
      return;
    }
    if (check.version) this.log(`Server version: ${check.version}`);
    const cmd = serverCommand(interp, launcher);
    const serverOptions: ServerOptions = {
      command: cmd.command,
      args: cmd.args,
      transport: TransportKind.stdio,
      options: { cwd: this.neutralCwd(), env: this.processEnv() },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: DOCUMENT_SELECTOR,
      outputChannel: clientOutput(this.output),
      initializationOptions: this.settings(),
      synchronize: { configurationSection: SECTION },
      middleware: {
        workspace: {
          configuration: async (params, token, next) => {
            const ours = params.items.map((item) => item.section === SECTION);
            let others: unknown[] = [];
            if (!ours.every(Boolean)) {
              const answer = await next(params, token);
              if (answer instanceof ResponseError) return answer;
              others = answer as unknown[];
            }
            return params.items.map((item, i) =>
              ours[i] ? this.settings(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined) : others[i]);
          },
          // The client would send the raw `torch-lsp` section: send the server's shape instead.
          didChangeConfiguration: () => this.sendSettingsIfRunning(client),
        },
      },
    };
    this.log(`Starting: ${[cmd.command, ...cmd.args].join(' ')} --stdio`);
    const client = new LanguageClient(CLIENT_ID, 'torch-lsp', serverOptions, clientOptions);
    this.client = client;
    this.clientListener = client.onDidChangeState((e) => {
      if (this.client !== client) return;
      if (e.newState === State.Running) this.setStatus('running');
      else if (e.newState === State.Starting) this.setStatus('starting');
      else if (e.newState === State.Stopped && !this.stopping) this.setStatus('stopped', 'The server stopped: see the output.');
    });
    try {
      await client.start();
      if (this.client === client) this.setStatus('running');
    } catch (err) {
      if (this.client !== client || this.disposed) return;
      const message = err instanceof Error ? err.message : String(err);
      this.log(`The server did not start: ${message}`);
      this.setStatus('failed', message);
      this.client = undefined;
      this.clientListener?.dispose();
      this.clientListener = undefined;
      client.dispose().catch(() => undefined);
      void vscode.window.showErrorMessage(`torch-lsp: the server did not start (${message}).`, 'Show output')
        .then((choice) => { if (choice === 'Show output') this.output.show(); });
    }
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.clientListener?.dispose();
    this.clientListener = undefined;
    if (!client) return;
    this.stopping = true;
    try {
      await client.stop(2000);
    } catch (err) {
      this.log(`Stopping the server: ${String(err)}`);
    } finally {
      this.stopping = false;
    }
  }

  private checkFailed(interp: Interpreter, check: Exclude<CheckResult, { ok: true }>, launcher: string | undefined): void {
    const shown = displayInterpreter(interp);
    const tried = displayCommand((({ command, args }) => [command, ...args])(checkCommand(interp, launcher)));
    this.log(`${tried} failed (${check.reason}):\n${check.detail}`);
    const hint = interp.source === 'setting' ? 'set torch-lsp.interpreter to a Python 3.10 or newer'
      : 'select a Python 3.10 or newer interpreter, or set torch-lsp.interpreter';
    const repository = repositoryRoot(this.context.extensionUri?.fsPath || this.context.extensionPath);
    let message: string;
    let buttons: string[];
    if (check.reason === 'not-installed') {
      message = notInstalledMessage(interp, repository);
      buttons = [...(installCommandLine(interp, repository) ? ['Copy command'] : []), 'Open settings'];
      this.setStatus('not-installed', message);
    } else if (check.reason === 'not-found') {
      message = `torch-lsp: cannot run the Python interpreter ${shown} (${check.detail}): ${hint}.`;
      buttons = ['Open settings', 'Show output'];
      this.setStatus('failed', message);
    } else {
      const last = check.detail.split('\n').map((l) => l.trim()).filter(Boolean).pop();
      const why = check.reason === 'timeout' ? check.detail : (last ?? 'see the output');
      message = `torch-lsp: \`${tried}\` failed (${why}): ${hint}.`;
      buttons = ['Open settings', 'Show output'];
      this.setStatus('failed', message);
    }
    void vscode.window.showErrorMessage(message, ...buttons).then(async (choice) => {
      const install = installCommandLine(interp, repository);
      if (choice === 'Copy command' && install) await vscode.env.clipboard.writeText(install);
      else if (choice === 'Open settings') await this.openSettings();
      else if (choice === 'Show output') this.output.show();
    }, () => undefined);
  }

  /**
   * This extension's settings. In a remote window (code-server, Remote SSH, WSL...) the User tab does not show
   * machine-scoped settings such as torch-lsp.interpreter: the Remote tab does (openRemoteSettings takes
   * `{query}`, not a string).
   */
  private async openSettings(): Promise<void> {
    if (vscode.env.remoteName) {
      try {
        await vscode.commands.executeCommand('workbench.action.openRemoteSettings', { query: SETTINGS_QUERY });
        return;
      } catch (err) {
        this.log(`Could not open the remote settings: ${String(err)}`);
      }
    }
    await vscode.commands.executeCommand('workbench.action.openSettings', SETTINGS_QUERY);
  }

  /** The workspace's own `torch-lsp.interpreter`, which VS Code ignores while the workspace is not trusted. */
  private workspaceInterpreterSetting(): string | undefined {
    const i = vscode.workspace.getConfiguration(SECTION).inspect<string>('interpreter');
    for (const v of [i?.workspaceFolderValue, i?.workspaceValue]) if (typeof v === 'string' && v.trim()) return v;
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      try {
        const text = fs.readFileSync(path.join(folder.uri.fsPath, '.vscode', 'settings.json'), 'utf8');
        const m = /"torch-lsp\.interpreter"\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(text);
        if (m && m[1].trim()) return m[1];
      } catch {
        // no settings file
      }
    }
    return undefined;
  }

  /** Once per window: an untrusted workspace's interpreter setting is ignored; say so, and what runs instead. */
  private noteIgnoredInterpreter(shown: string): void {
    if (vscode.workspace.isTrusted || this.untrustedNoticeShown) return;
    const ignored = this.workspaceInterpreterSetting();
    if (ignored === undefined) return;
    this.untrustedNoticeShown = true;
    const message = `torch-lsp: this workspace is not trusted, so its torch-lsp.interpreter setting (${ignored}) `
      + `is ignored (it would run a program the workspace names); the server runs with ${shown}. `
      + 'Trust the workspace to use its interpreter.';
    this.log(message);
    void vscode.window.showInformationMessage(message, 'Manage Workspace Trust').then(async (choice) => {
      if (choice === 'Manage Workspace Trust') await vscode.commands.executeCommand('workbench.trust.manage');
    }, () => undefined);
  }

  // ---------------------------------------------------------------- status bar
  private setStatus(state: Status, detail = ''): void {
    this.state = state;
    this.detail = detail;
    this.statusItem.text = `${STATUS_ICON[state]} torch-lsp`;
    this.statusItem.backgroundColor = state === 'running' || state === 'starting'
      ? undefined : new vscode.ThemeColor('statusBarItem.errorBackground');
    this.updateTooltip();
  }

  private updateTooltip(): void {
    const lines = [`torch-lsp: ${STATUS_WORDS[this.state]}`];
    if (this.detail) lines.push(this.detail);
    if (this.interp) lines.push(`Interpreter: ${displayInterpreter(this.interp)}`);
    const config = vscode.workspace.getConfiguration(SECTION);
    const runtime = runtimeBlockedByTrust(config, vscode.workspace.isTrusted) ? 'off (untrusted workspace)'
      : config.get('runtime.enabled') === true ? 'on' : 'off';
    lines.push(`Runtime evaluation: ${runtime}`, 'Click to show the output');
    this.statusItem.tooltip = lines.join('\n');
  }

  status(): Status {
    return this.state;
  }

  interpreter(): string[] | undefined {
    return this.interp?.argv;
  }

  private log(message: string): void {
    this.output.appendLine(`[extension] ${message}`);
  }

  // ---------------------------------------------------------------- summary
  async showSummary(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor || editor.document.languageId !== 'python') {
      void vscode.window.showWarningMessage('torch-lsp: open a Python file to show its model summary.');
      return;
    }
    const doc = editor.document;
    const interp = this.interp ?? await this.resolveInterpreter();
    let file = doc.uri.fsPath;
    let tmpDir: string | undefined;
    const copied = doc.uri.scheme !== 'file' || doc.isDirty;
    const name = doc.uri.scheme === 'file' ? path.basename(doc.uri.fsPath) : 'untitled.py';
    if (copied) {
      tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'torch-lsp-summary-'));
      file = path.join(tmpDir, name.endsWith('.py') ? name : `${name}.py`);
      fs.writeFileSync(file, doc.getText(), 'utf8');
    }
    const launcher = this.launcher();
    const cmd = summaryCommand(interp, file, { launcher });
    let result;
    try {
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'torch-lsp: model summary' },
        () => run(cmd, { cwd: this.neutralCwd(), timeoutMs: 60_000, env: this.processEnv() }));
    } finally {
      if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
    }
    const summary = summaryDocument(copied ? name : file, cmd, result, copied);
    // A read-only document of its own scheme, not an untitled one that asks to be saved; shown again, it is updated.
    const uri = vscode.Uri.from({ scheme: SUMMARY_SCHEME, path: summaryPath(doc.uri.scheme === 'file' ? doc.uri.fsPath : name) });
    this.summaries.set(uri.toString(), summary.content);
    this.summaryChanged.fire(uri);
    const shown = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(shown, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
    if (summary.error) {
      const missing = !launcher && /No module named '?torch_lsp/.test(result.stderr);
      void vscode.window.showErrorMessage(missing
        ? notInstalledMessage(interp, repositoryRoot(this.context.extensionUri?.fsPath || this.context.extensionPath))
        : summary.error);
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await this.stopClient();
    for (const d of this.disposables.splice(0)) {
      try {
        d.dispose();
      } catch {
        // already gone
      }
    }
  }
}

let current: TorchLsp | undefined;

export function activate(context: vscode.ExtensionContext): TorchLspApi {
  const ext = new TorchLsp(context);
  current = ext;
  context.subscriptions.push({ dispose: () => { void ext.dispose(); } });
  void ext.restart();
  return {
    get ready() { return ext.ready; },
    status: () => ext.status(),
    interpreter: () => ext.interpreter(),
    settings: () => ext.settings(),
    restart: () => ext.restart(),
  };
}

export async function deactivate(): Promise<void> {
  const ext = current;
  current = undefined;
  await ext?.dispose();
}
