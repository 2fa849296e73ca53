// Run a short command (the install check, the summary) and collect what it printed. No `vscode` import.
import { execFile } from 'node:child_process';

import { checkCommand, Command, Interpreter } from './interpreter';

export interface RunResult {
  /** Exit code; null when the process did not exit by itself (killed, timed out, not started). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the command could not be started (e.g. ENOENT) or timed out. */
  error?: { code?: string; message: string; timedOut: boolean };
}

export interface RunOptions {
  cwd?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export function run(cmd: Command, opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    let child;
    try {
      child = execFile(cmd.command, cmd.args, {
        cwd: opts.cwd,
        env: opts.env ?? { ...process.env, PYTHONIOENCODING: 'utf-8' },
        timeout: opts.timeoutMs ?? 30_000,
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
        windowsHide: true,
      }, (err, stdout, stderr) => {
        if (!err) {
          resolve({ code: 0, stdout, stderr });
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean; signal?: string | null; code?: number | string };
        const timedOut = e.killed === true && e.signal != null;
        if (typeof e.code === 'number') {
          resolve({ code: timedOut ? null : e.code, stdout, stderr,
            error: timedOut ? { message: `timed out after ${opts.timeoutMs ?? 30_000} ms`, timedOut } : undefined });
          return;
        }
        resolve({ code: null, stdout: stdout ?? '', stderr: stderr ?? '',
          error: { code: typeof e.code === 'string' ? e.code : undefined,
            message: timedOut ? `timed out after ${opts.timeoutMs ?? 30_000} ms` : e.message, timedOut } });
      });
    } catch (err) {
      resolve({ code: null, stdout: '', stderr: '', error: { message: String(err), timedOut: false } });
      return;
    }
    child.stdin?.end();
  });
}

export type CheckResult =
  | { ok: true; version?: string }
  | { ok: false; reason: 'not-found' | 'not-installed' | 'timeout' | 'error'; detail: string };

/**
 * Can `interp` run torch-lsp? With `launcher` (the bundled server), `<interp> <launcher> --version`: a
 * failure is the interpreter's (too old, broken), not a missing install. Else `<interp> -c "import torch_lsp"`.
 * `version` is what `--version` printed.
 */
export async function checkInterpreter(interp: Interpreter | string[], opts: RunOptions = {},
  runner: (cmd: Command, opts: RunOptions) => Promise<RunResult> = run, launcher?: string): Promise<CheckResult> {
  const r = await runner(checkCommand(interp, launcher), { timeoutMs: 20_000, ...opts });
  if (r.code === 0) return r.stdout.trim() ? { ok: true, version: r.stdout.trim() } : { ok: true };
  const detail = (r.stderr || r.stdout || r.error?.message || '').trim();
  if (r.error?.timedOut) return { ok: false, reason: 'timeout', detail: r.error.message };
  if (r.error?.code === 'ENOENT' || r.error?.code === 'EACCES') {
    return { ok: false, reason: 'not-found', detail: r.error.message };
  }
  if (launcher) return { ok: false, reason: 'error', detail };
  if (/ModuleNotFoundError|No module named/.test(detail)) return { ok: false, reason: 'not-installed', detail };
  if (r.error) return { ok: false, reason: 'error', detail };
  // Any other failure of `import torch_lsp` (a broken install, an old Python): installing fixes it too.
  return { ok: false, reason: 'not-installed', detail };
}
