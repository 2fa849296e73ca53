// Fake Python interpreters for the tests: small shell scripts that log their arguments.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export function tempDir(prefix = 'torch-lsp-vscode-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface FakePythonOptions {
  /** Whether `-c "import torch_lsp"` succeeds. */
  installed?: boolean;
  /** Seconds the import check sleeps first. */
  sleep?: number;
  /** What `-m torch_lsp summary FILE` prints. */
  summary?: string;
  /** The file name (python3, python...). */
  name?: string;
  /** Runs the bundled launcher as a Python 3.9 would: exit 3 with the launcher's message. */
  tooOld?: boolean;
}

/** A build of the extension with the server bundled: bundled/tool/lsp_server.py and bundled/libs/torch_lsp. */
export function fakeBundle(extensionDir: string): string {
  const launcher = path.join(extensionDir, 'bundled', 'tool', 'lsp_server.py');
  fs.mkdirSync(path.dirname(launcher), { recursive: true });
  fs.writeFileSync(launcher, '# the launcher\n');
  fs.mkdirSync(path.join(extensionDir, 'bundled', 'libs', 'torch_lsp'), { recursive: true });
  fs.writeFileSync(path.join(extensionDir, 'bundled', 'libs', 'torch_lsp', '__init__.py'), '');
  return launcher;
}

/** An executable script standing in for Python; every call appends its arguments to `<script>.log`. */
export function fakePython(dir: string, opts: FakePythonOptions = {}): string {
  const file = path.join(dir, opts.name ?? 'python');
  const log = `${file}.log`;
  const summary = (opts.summary ?? 'LeNet (line 6)\nLayer  Type  Params\nTotal parameters: 44726').replace(/'/g, `'\\''`);
  const script = `#!/bin/sh
printf '%s\\n' "$*" >> '${log}'
printf '%s\\n' "\${TORCH_LSP_IMPORT_STRATEGY:-unset}" >> '${log}.env'
case "$1" in
  */lsp_server.py)
    ${opts.tooOld ? `echo "torch-lsp needs Python 3.10 or newer; $0 is Python 3.9: select another interpreter (torch-lsp.interpreter)" >&2; exit 3` : ':'}
    shift
    if [ "$1" = "--version" ]; then echo "torch-lsp 0.1.0"; exit 0; fi
    if [ "$1" = "summary" ]; then
      shift
      printf '%s\\n' '${summary}'
      printf 'ARGS: %s\\n' "$*"
      exit 0
    fi
    exit 3;;
esac
if [ "$1" = "-c" ]; then
  ${opts.sleep ? `sleep ${opts.sleep}` : ':'}
  ${opts.installed === false
    ? `echo "Traceback (most recent call last):" >&2; echo "ModuleNotFoundError: No module named 'torch_lsp'" >&2; exit 1`
    : 'exit 0'}
fi
if [ "$1 $2 $3" = "-m torch_lsp summary" ]; then
  ${opts.installed === false ? `echo "No module named torch_lsp" >&2; exit 1` : ''}
  shift 3
  printf '%s\\n' '${summary}'
  printf 'ARGS: %s\\n' "$*"
  exit 0
fi
exit 3
`;
  fs.writeFileSync(file, script, { mode: 0o755 });
  return file;
}

/** TORCH_LSP_IMPORT_STRATEGY as each call saw it ("unset" when absent). */
export function strategies(python: string): string[] {
  try {
    return fs.readFileSync(`${python}.log.env`, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

export function calls(python: string): string[] {
  try {
    return fs.readFileSync(`${python}.log`, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll until `cond()` holds (the extension reacts to events asynchronously). */
export async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await sleep(5);
  }
}
