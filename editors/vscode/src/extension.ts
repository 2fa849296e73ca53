// torch-lsp for VS Code: starts `<interpreter> -m torch_lsp serve` over stdio with vscode-languageclient.
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
  chooseInterpreter,
  displayInterpreter,
  installCommandLine,
  Interpreter,
  notInstalledMessage,
  PythonExtensionApi,
  pythonExtensionInterpreter,
  serverCommand,
  summaryCommand,
} from './interpreter';
import { checkInterpreter, CheckResult, run } from './process';
import { readSettings, runtimeBlockedByTrust, SECTION, ServerSettings } from './settings';
import { SUMMARY_LANGUAGE, summaryDocument } from './summary';

export const CLIENT_ID = 'torch-lsp';
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

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel('torch-lsp');
    this.statusItem = vscode.window.createStatusBarItem('torch-lsp.status', vscode.StatusBarAlignment.Right, 100);
    this.statusItem.name = 'torch-lsp';
    this.statusItem.command = COMMANDS.showOutput;
    this.disposables.push(this.output, this.statusItem);
    this.setStatus('starting');
    this.statusItem.show();

    this.disposables.push(
      vscode.commands.registerCommand(COMMANDS.restart, () => this.restart()),
      vscode.commands.registerCommand(COMMANDS.showOutput, () => this.output.show()),
      vscode.commands.registerCommand(COMMANDS.showSummary, () => this.showSummary()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${SECTION}.interpreter`)) {
          this.log('torch-lsp.interpreter changed: restarting');
          void this.restart();
        } else if (e.affectsConfiguration(SECTION)) {
          this.updateTooltip();  // the client sends the new settings (synchronize.configurationSection)
        }
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.log('The workspace is now trusted: sending the settings again');
        this.updateTooltip();
        const client = this.client;
        if (client && client.state === State.Running) {
          this.sendSettings(client).catch((err) => this.log(`Could not send the settings: ${String(err)}`));
        }
      }),
    );
  }

  // ---------------------------------------------------------------- settings
  settings(scope?: vscode.Uri): ServerSettings {
    return readSettings(vscode.workspace.getConfiguration(SECTION, scope), vscode.workspace.isTrusted);
  }

  private sendSettings(client: LanguageClient): Promise<void> {
    return client.sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: this.settings() } });
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
    const next = this.queue.then(async () => {
      await this.stopClient();
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
    this.log(`Interpreter: ${shown} (${interp.source === 'setting' ? 'torch-lsp.interpreter'
      : interp.source === 'python-extension' ? 'the Python extension' : 'default'})`);
    const check = await checkInterpreter(interp, { cwd: this.neutralCwd() });
    if (this.disposed) return;
    if (!check.ok) {
      this.checkFailed(interp, check);
      return;
    }
    const cmd = serverCommand(interp);
    const serverOptions: ServerOptions = {
      command: cmd.command,
      args: cmd.args,
      transport: TransportKind.stdio,
      options: { cwd: this.neutralCwd(), env: { ...process.env, PYTHONIOENCODING: 'utf-8' } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { scheme: 'file', language: 'python' },
        { scheme: 'untitled', language: 'python' },
      ],
      outputChannel: this.output,
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
          didChangeConfiguration: async () => {
            if (client.state !== State.Stopped) await this.sendSettings(client);
          },
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

  private checkFailed(interp: Interpreter, check: Exclude<CheckResult, { ok: true }>): void {
    const shown = displayInterpreter(interp);
    this.log(`${shown} -c "import torch_lsp" failed (${check.reason}):\n${check.detail}`);
    const hint = interp.source === 'setting' ? 'set torch-lsp.interpreter to a Python with torch-lsp installed'
      : 'select a Python interpreter with torch-lsp installed, or set torch-lsp.interpreter';
    let message: string;
    let buttons: string[];
    if (check.reason === 'not-installed') {
      message = notInstalledMessage(interp);
      buttons = ['Copy command', 'Open settings'];
      this.setStatus('not-installed', message);
    } else if (check.reason === 'not-found') {
      message = `torch-lsp: cannot run the Python interpreter ${shown} (${check.detail}): ${hint}.`;
      buttons = ['Open settings', 'Show output'];
      this.setStatus('failed', message);
    } else {
      message = `torch-lsp: ${shown} -c "import torch_lsp" failed (${check.reason === 'timeout' ? check.detail
        : 'see the output'}): ${hint}.`;
      buttons = ['Open settings', 'Show output'];
      this.setStatus('failed', message);
    }
    void vscode.window.showErrorMessage(message, ...buttons).then(async (choice) => {
      if (choice === 'Copy command') await vscode.env.clipboard.writeText(installCommandLine(interp));
      else if (choice === 'Open settings') {
        await vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.interpreter`);
      } else if (choice === 'Show output') this.output.show();
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
    const cmd = summaryCommand(interp, file);
    let result;
    try {
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'torch-lsp: model summary' },
        () => run(cmd, { cwd: this.neutralCwd(), timeoutMs: 60_000 }));
    } finally {
      if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
    }
    const summary = summaryDocument(copied ? name : file, cmd, result, copied);
    const shown = await vscode.workspace.openTextDocument({ language: SUMMARY_LANGUAGE, content: summary.content });
    await vscode.window.showTextDocument(shown, { viewColumn: vscode.ViewColumn.Beside, preview: true, preserveFocus: true });
    if (summary.error) {
      const missing = /No module named '?torch_lsp/.test(result.stderr);
      void vscode.window.showErrorMessage(missing ? notInstalledMessage(interp) : summary.error);
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
