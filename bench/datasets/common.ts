// Shared helpers for the dataset benchmarks: a corpus from the bundled WikiText-2, the Python
// counterpart runner, and the result table / JSON output ($OUT/<name>.json, or bench/results/<name>.json).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readWikiText2 } from '../../packages/datasets/src/wikitext.ts';

/** WikiText-2 train as JSON lines (one line per document line), repeated `copies` times. */
export function writeCorpus(path: string, copies: number): { bytes: number; lines: number } {
  const lines = readWikiText2('train').split('\n').filter((l) => l.trim() !== '');
  const body = `${lines.map((t) => JSON.stringify({ text: t })).join('\n')}\n`;
  writeFileSync(path, body.repeat(copies));
  return { bytes: Buffer.byteLength(body) * copies, lines: lines.length * copies };
}

export function runPython(script: string, args: string[]): Record<string, number> | { error: string } {
  const py = process.env.PYTHON ?? 'python3';
  const r = spawnSync(py, [join(import.meta.dirname, script), ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) return { error: (r.stderr || r.stdout || String(r.error)).trim().split('\n').slice(-3).join(' | ') };
  const last = r.stdout.trim().split('\n').pop() ?? '{}';
  try {
    return JSON.parse(last);
  } catch {
    return { error: `unparsable output: ${last}` };
  }
}

export function report(name: string, rows: Record<string, string | number>[], extra: Record<string, unknown>): void {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(width[i]!)).join('  ');
  console.log(line(cols));
  for (const r of rows) console.log(line(cols.map((c) => String(r[c] ?? ''))));
  const outDir = process.env.OUT ?? join(import.meta.dirname, '..', 'results');
  mkdirSync(outDir, { recursive: true });
  const date = new Date().toISOString();
  writeFileSync(join(outDir, `${name}.json`), JSON.stringify({ name, date, rows, ...extra }, null, 2));
}
