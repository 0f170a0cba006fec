// Reads vocabulary files, plain or gzipped, and the copies bundled with this package.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** The text of a file; `name.gz` is read (and decompressed) when only that exists. */
export function readText(path: string): string {
  if (existsSync(path)) {
    const buf = readFileSync(path);
    return (path.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
  }
  if (existsSync(`${path}.gz`)) return gunzipSync(readFileSync(`${path}.gz`)).toString('utf8');
  throw new Error(`${path}: no such file (nor ${path}.gz)`);
}

/** Path of a file bundled under this package's data/ folder (e.g. "gpt2/vocab.json"); may end in .gz on disk. */
export function bundledDataPath(rel: string): string {
  return fileURLToPath(new URL(`../../data/${rel}`, import.meta.url));
}
