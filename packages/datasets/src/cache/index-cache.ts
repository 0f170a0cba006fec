// Megatron's on-disk cache of dataset indices: files named
// `{md5 of the description}-{Class}-{split}-{affix}` in the cache folder, beside a
// `...-description.txt` holding the description (Python's json.dumps(indent=4) of the
// dataset's unique identifiers). Matching names let either side reuse the other's cache.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type PyJson, pyJsonDumps } from './pyjson.ts';
import { type Npy, type NpyArray, loadNpy, saveNpy } from './npy.ts';

export interface Description {
  text: string;
  md5: string;
}

export function describe(identifiers: { [key: string]: PyJson }): Description {
  const text = pyJsonDumps(identifiers);
  return { text, md5: createHash('md5').update(text, 'utf8').digest('hex') };
}

export class IndexCache {
  readonly dir: string;
  readonly base: string;
  readonly description: Description;

  /** `base` is e.g. `${md5}-GPTDataset-train`. */
  constructor(dir: string, base: string, description: Description) {
    this.dir = dir;
    this.base = base;
    this.description = description;
  }

  path(affix: string): string {
    return join(this.dir, `${this.base}-${affix}`);
  }

  /** All of these files exist (a cache hit). */
  has(affixes: string[]): boolean {
    return [this.path('description.txt'), ...affixes.map((a) => this.path(a))].every((p) => existsSync(p));
  }

  load(affix: string): Npy {
    return loadNpy(this.path(affix));
  }

  /** Writes the description and the arrays; each file appears atomically (write, then rename). */
  save(arrays: [affix: string, data: NpyArray, shape?: number[]][]): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = (p: string) => `${p}.tmp-${process.pid}`;
    const desc = this.path('description.txt');
    writeFileSync(tmp(desc), this.description.text);
    renameSync(tmp(desc), desc);
    for (const [affix, data, shape] of arrays) {
      const p = this.path(affix);
      saveNpy(tmp(p), data, shape);
      renameSync(tmp(p), p);
    }
  }
}
