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

/** `<interpreter> -m torch_lsp serve` (vscode-languageclient appends `--stdio`). */
export function serverCommand(interp: Interpreter | string[]): Command {
  return withArgs(interp, ['-m', 'torch_lsp', 'serve']);
}

/** `<interpreter> -c "import torch_lsp"`: can this interpreter run the server? */
export function checkCommand(interp: Interpreter | string[]): Command {
  return withArgs(interp, ['-c', CHECK_CODE]);
}

export interface SummaryOptions {
  /** Only this class (`FILE:Class`). */
  className?: string;
  format?: 'table' | 'json';
  statements?: boolean;
}

/** `<interpreter> -m torch_lsp summary [--format F] [--statements] FILE[:Class]`. */
export function summaryCommand(interp: Interpreter | string[], file: string, opts: SummaryOptions = {}): Command {
  const args = ['-m', 'torch_lsp', 'summary'];
  if (opts.format) args.push('--format', opts.format);
  if (opts.statements) args.push('--statements');
  args.push(opts.className ? `${file}:${opts.className}` : file);
  return withArgs(interp, args);
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

/** The command that fixes a missing torch-lsp: `<interpreter> -m pip install torch-lsp`. */
export function installCommandLine(interp: Interpreter | string[]): string {
  const argv = Array.isArray(interp) ? interp : interp.argv;
  return displayCommand([...argv, '-m', 'pip', 'install', 'torch-lsp']);
}

export function notInstalledMessage(interp: Interpreter | string[]): string {
  const shown = displayInterpreter(interp);
  return `torch-lsp is not installed for ${shown}: run \`${installCommandLine(interp)}\``;
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
