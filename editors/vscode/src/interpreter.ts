// Which Python runs the server, and the command lines built from it. No `vscode` import here.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type InterpreterSource = 'setting' | 'python-extension' | 'default';

export interface Interpreter {
  /** The interpreter's command line: usually one path, or e.g. `conda run -n env python` from the Python extension. */
  argv: string[];
  source: InterpreterSource;
}

export interface Command {
  command: string;
  args: string[];
}

export const DEFAULT_INTERPRETER = 'python3';
export const CHECK_CODE = 'import torch_lsp';

export interface ExpandContext {
  workspaceFolder?: string;
  home?: string;
  env?: Record<string, string | undefined>;
}

/** `${workspaceFolder}`, `${userHome}`, `${env:NAME}` and a leading `~`; a relative path with a separator is relative to the workspace folder. */
export function expandInterpreterSetting(value: string, ctx: ExpandContext = {}): string {
  let out = value.trim();
  if (!out) return '';
  out = out.replace(/\$\{(workspaceFolder|userHome|env:([^}]+))\}/g, (whole, name: string, envName?: string) => {
    if (envName !== undefined) return ctx.env?.[envName] ?? '';
    if (name === 'workspaceFolder') return ctx.workspaceFolder ?? whole;
    return ctx.home ?? whole;
  });
  if (ctx.home && (out === '~' || out.startsWith('~/') || out.startsWith('~\\'))) {
    out = path.join(ctx.home, out.slice(1));
  }
  const hasSeparator = out.includes('/') || out.includes('\\');
  if (hasSeparator && !path.isAbsolute(out) && ctx.workspaceFolder) {
    out = path.resolve(ctx.workspaceFolder, out);
  }
  return out;
}

/** The `torch-lsp.interpreter` setting wins; else the Python extension's interpreter; else `python3`. */
export function chooseInterpreter(setting: string | undefined, fromPythonExtension: string[] | undefined,
  ctx: ExpandContext = {}): Interpreter {
  const expanded = expandInterpreterSetting(setting ?? '', ctx);
  if (expanded) return { argv: [expanded], source: 'setting' };
  const ext = (fromPythonExtension ?? []).filter((a) => typeof a === 'string' && a !== '');
  if (ext.length) return { argv: ext, source: 'python-extension' };
  return { argv: [DEFAULT_INTERPRETER], source: 'default' };
}

function withArgs(interp: Interpreter | string[], args: string[]): Command {
  const argv = Array.isArray(interp) ? interp : interp.argv;
  return { command: argv[0], args: [...argv.slice(1), ...args] };
}

// ------------------------------------------------------------------ the bundled server

/** `torch-lsp.importStrategy`: which torch-lsp the launcher imports first (see bundled/tool/lsp_server.py). */
export type ImportStrategy = 'useBundled' | 'fromEnvironment';
export const IMPORT_STRATEGIES: readonly ImportStrategy[] = ['useBundled', 'fromEnvironment'];
export const IMPORT_STRATEGY_ENV = 'TORCH_LSP_IMPORT_STRATEGY';

export function importStrategy(value: unknown): ImportStrategy {
  return value === 'fromEnvironment' ? 'fromEnvironment' : 'useBundled';
}

/**
 * The launcher of the server bundled in the extension (`bundled/tool/lsp_server.py`, with torch-lsp and its
 * dependencies in `bundled/libs`, filled by `npm run bundle`); undefined when this build has none (an extension
 * run from its sources without `npm run bundle`): then the interpreter's own torch-lsp runs (`-m torch_lsp`).
 */
export function bundledLauncher(extensionPath: string | undefined): string | undefined {
  if (!extensionPath) return undefined;
  const launcher = path.join(extensionPath, 'bundled', 'tool', 'lsp_server.py');
  const pkg = path.join(extensionPath, 'bundled', 'libs', 'torch_lsp', '__init__.py');
  return fs.existsSync(launcher) && fs.existsSync(pkg) ? launcher : undefined;
}

/** The torch-lsp repository the extension is built from (editors/vscode in a clone), if it is there. */
export function repositoryRoot(extensionPath: string | undefined): string | undefined {
  if (!extensionPath) return undefined;
  const root = path.resolve(extensionPath, '..', '..');
  try {
    const text = fs.readFileSync(path.join(root, 'pyproject.toml'), 'utf8');
    return /^name\s*=\s*"torch-lsp"/m.test(text) ? root : undefined;
  } catch {
    return undefined;
  }
}

/** `<interpreter> <launcher> ARGS` with the bundled server, else `<interpreter> -m torch_lsp ARGS`. */
function torchLsp(interp: Interpreter | string[], args: string[], launcher?: string): Command {
  return withArgs(interp, launcher ? [launcher, ...args] : ['-m', 'torch_lsp', ...args]);
}

/** `<interpreter> <launcher> serve` (vscode-languageclient appends `--stdio`). */
export function serverCommand(interp: Interpreter | string[], launcher?: string): Command {
  return torchLsp(interp, ['serve'], launcher);
}

/**
 * Can this interpreter run the server? With the bundled server: `<interpreter> <launcher> --version` (the
 * interpreter runs, is Python >= 3.10, and imports the bundled torch-lsp); else `-c "import torch_lsp"`.
 */
export function checkCommand(interp: Interpreter | string[], launcher?: string): Command {
  return launcher ? withArgs(interp, [launcher, '--version']) : withArgs(interp, ['-c', CHECK_CODE]);
}

export interface SummaryOptions {
  /** Only this class (`FILE:Class`). */
  className?: string;
  format?: 'table' | 'json';
  statements?: boolean;
  /** The bundled server's launcher (see bundledLauncher). */
  launcher?: string;
}

/** `<interpreter> <launcher> summary [--format F] [--statements] FILE[:Class]`. */
export function summaryCommand(interp: Interpreter | string[], file: string, opts: SummaryOptions = {}): Command {
  const args = ['summary'];
  if (opts.format) args.push('--format', opts.format);
  if (opts.statements) args.push('--statements');
  args.push(opts.className ? `${file}:${opts.className}` : file);
  return torchLsp(interp, args, opts.launcher);
}

/** Quote one argument for a POSIX shell (as shown to the user; nothing runs through a shell). */
export function shellQuote(arg: string): string {
  if (arg !== '' && /^[A-Za-z0-9_@%+=:,./\\-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function displayCommand(argv: string[]): string {
  return argv.map(shellQuote).join(' ');
}

export function displayInterpreter(interp: Interpreter | string[]): string {
  return displayCommand(Array.isArray(interp) ? interp : interp.argv);
}

/**
 * The command that installs torch-lsp for the interpreter from the clone the extension was built in
 * (`<interpreter> -m pip install <clone>`); undefined without one. torch-lsp is not on a package index.
 */
export function installCommandLine(interp: Interpreter | string[], repository: string | undefined): string | undefined {
  if (!repository) return undefined;
  const argv = Array.isArray(interp) ? interp : interp.argv;
  return displayCommand([...argv, '-m', 'pip', 'install', repository]);
}

/** Only when this build has no bundled server (the .vsix always has one) and the interpreter has no torch-lsp. */
export function notInstalledMessage(interp: Interpreter | string[], repository: string | undefined): string {
  const shown = displayInterpreter(interp);
  const install = installCommandLine(interp, repository);
  const head = `torch-lsp is not installed for ${shown} and this build of the extension has no bundled server`;
  if (install) {
    return `${head}: run \`npm run bundle\` in ${path.join(repository!, 'editors', 'vscode')}, `
      + `or install torch-lsp for this interpreter: \`${install}\``;
  }
  return `${head}: install the extension's .vsix (\`npm run package\` in editors/vscode of a torch-lsp clone), `
    + `or install torch-lsp from a clone for this interpreter (\`${shown} -m pip install <clone>\`)`;
}

// ------------------------------------------------------------------ the Python extension (ms-python.python)

/** The parts of the Python extension's API (`@vscode/python-extension`) used here; everything optional. */
export interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath?(resource?: unknown): { id?: string; path?: string } | undefined;
    resolveEnvironment?(env: unknown): Promise<{ executable?: { uri?: { fsPath?: string } } } | undefined>;
    onDidChangeActiveEnvironmentPath?(listener: (e: unknown) => unknown): { dispose(): unknown };
  };
  settings?: {
    getExecutionDetails?(resource?: unknown): { execCommand?: string[] | undefined } | undefined;
    onDidChangeExecutionDetails?(listener: (e: unknown) => unknown): { dispose(): unknown };
  };
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The Python extension's interpreter for `resource`: `environments.getActiveEnvironmentPath()` (resolved to
 * the executable), else `settings.getExecutionDetails().execCommand`. undefined when neither answers.
 */
export async function pythonExtensionInterpreter(api: PythonExtensionApi | undefined, resource?: unknown,
  log: (msg: string) => void = () => undefined): Promise<string[] | undefined> {
  if (!api) return undefined;
  try {
    const envs = api.environments;
    const active = envs?.getActiveEnvironmentPath?.(resource);
    if (active && typeof active.path === 'string' && active.path) {
      let exe: string | undefined;
      try {
        const resolved = await envs?.resolveEnvironment?.(active);
        exe = resolved?.executable?.uri?.fsPath;
      } catch (err) {
        log(`Python extension: resolveEnvironment failed: ${String(err)}`);
      }
      if (exe) return [exe];
      if (!isDirectory(active.path)) return [active.path];
      // An environment folder without a known executable (e.g. conda): ask getExecutionDetails.
    }
  } catch (err) {
    log(`Python extension: getActiveEnvironmentPath failed: ${String(err)}`);
  }
  try {
    const cmd = api.settings?.getExecutionDetails?.(resource)?.execCommand;
    if (Array.isArray(cmd) && cmd.length && cmd.every((a) => typeof a === 'string') && cmd[0]) return cmd;
  } catch (err) {
    log(`Python extension: getExecutionDetails failed: ${String(err)}`);
  }
  return undefined;
}
