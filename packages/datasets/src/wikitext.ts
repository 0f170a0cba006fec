// WikiText-2 (v1), bundled gzipped in data/wikitext-2 (CC BY-SA 3.0; see data/README.md), so
// that examples and tests run offline.
import { mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundledDataPath, readText } from './tokenizers/files.ts';

export type WikiTextSplit = 'train' | 'valid' | 'test';

/** The text of one split: lines as in the original files (titles " = Title = ", blank lines " "). */
export function readWikiText2(split: WikiTextSplit): string {
  return readText(bundledDataPath(`wikitext-2/wiki.${split}.tokens.gz`));
}

/** Writes the split as a plain file in `dir` (once) and returns its path, for tools that want files. */
export function wikiText2File(split: WikiTextSplit, dir: string): string {
  const path = join(dir, `wiki.${split}.tokens`);
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, readWikiText2(split));
  }
  return path;
}

/** Documents of a split: WikiText articles start at top-level titles (" = Title = "). */
export function wikiText2Articles(split: WikiTextSplit): string[] {
  const articles: string[] = [];
  let cur: string[] = [];
  for (const line of readWikiText2(split).split('\n')) {
    if (/^ = [^=].* = $/.test(line) && cur.some((l) => l.trim())) {
      articles.push(cur.join('\n'));
      cur = [];
    }
    cur.push(line);
  }
  if (cur.some((l) => l.trim())) articles.push(cur.join('\n'));
  return articles;
}
