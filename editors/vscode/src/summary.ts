// "torch-lsp: Show Model Summary": the text of the document it opens. No `vscode` import.
// A read-only document of the `torch-lsp-summary` scheme (a TextDocumentContentProvider in extension.ts),
// plain text, not markdown: VS Code wraps markdown lines by default, which breaks the table.
import * as path from 'node:path';

import { Command, displayCommand } from './interpreter';
import { RunResult } from './process';

export const SUMMARY_SCHEME = 'torch-lsp-summary';

/**
 * The path of the summary document of `file` (absolute, or a name for an untitled document): one per file, so
 * showing it again updates it. The tab shows `lenet.py (model summary)`; the suffix keeps VS Code from taking it
 * for Python.
 */
export function summaryPath(file: string): string {
  const p = file.replace(/\\/g, '/');
  return `${p.startsWith('/') ? '' : '/'}${p} (model summary)`;
}

export interface SummaryDocument {
  /** Shown beside the editor; the first line is the tab's title. */
  content: string;
  /** Set when the command failed: shown as an error message too. */
  error?: string;
}

/** The document for one run of `torch-lsp summary` on `file` (`copied`: a copy of unsaved text was analysed). */
export function summaryDocument(file: string, cmd: Command, result: RunResult, copied = false): SummaryDocument {
  const name = path.basename(file);
  const lines = [`Model summary: ${name}`, `$ ${displayCommand([cmd.command, ...cmd.args])}`];
  if (copied) lines.push('(the document has unsaved changes: this is the summary of a copy of the editor\'s text)');
  lines.push('');
  let error: string | undefined;
  if (result.code !== 0) {
    const why = result.error ? result.error.message
      : (result.stderr.trim().split('\n').pop() || `exit code ${result.code}`);
    error = `torch-lsp summary failed for ${name}: ${why}`;
    lines.push(`Failed: ${why}`, '');
  }
  const out = result.stdout.replace(/\s+$/, '');
  if (out) lines.push(out, '');
  else if (result.code === 0) lines.push('(no output)', '');
  const err = result.stderr.replace(/\s+$/, '');
  if (err && result.code !== 0) lines.push(err, '');
  return { content: lines.join('\n'), error };
}
