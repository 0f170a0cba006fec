// A Hugging Face checkpoint directory: model.safetensors, or shards listed by
// model.safetensors.index.json ({ "metadata": {...}, "weight_map": { tensor: shard file } }).
// Each shard is mapped when opened (reading only its header), and every tensor is looked up
// through the index, so a rank touches only the shards and bytes holding its slices.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SafetensorsError } from './errors.ts';
import { SafetensorsFile } from './file.ts';
import type { Range, Selection } from './selection.ts';
import type { RawTensor, TensorInfo, TensorSource } from './source.ts';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

export class ShardedSafetensors implements TensorSource {
  readonly path: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensor name -> the shard holding it. */
  readonly weightMap: ReadonlyMap<string, SafetensorsFile>;
  readonly shards: readonly SafetensorsFile[];

  constructor(indexPath: string) {
    this.path = indexPath;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (e) {
      throw new SafetensorsError(indexPath, `cannot read the shard index: ${(e as Error).message}`);
    }
    const map = (json as { weight_map?: unknown })?.weight_map;
    if (typeof map !== 'object' || map === null || Array.isArray(map)) {
      throw new SafetensorsError(indexPath, 'the shard index has no "weight_map" object (tensor name -> shard file)');
    }
    const dir = dirname(indexPath);
    const byFile = new Map<string, SafetensorsFile>();
    const missingFiles = new Set<string>();
    const weightMap = new Map<string, SafetensorsFile>();
    const absent: string[] = [];
    for (const [name, file] of Object.entries(map)) {
      if (typeof file !== 'string' || file.includes('/') || file.includes('\\')) {
        throw new SafetensorsError(indexPath, `weight_map['${name}'] must be a file name in the same directory, got ${JSON.stringify(file)}`);
      }
      if (!byFile.has(file) && !missingFiles.has(file)) {
        if (existsSync(join(dir, file))) byFile.set(file, SafetensorsFile.open(join(dir, file)));
        else missingFiles.add(file);
      }
      const shard = byFile.get(file);
      if (!shard) continue;
      if (!shard.has(name)) absent.push(`'${name}' (listed in ${file})`);
      weightMap.set(name, shard);
    }
    if (missingFiles.size) {
      throw new SafetensorsError(indexPath, `shard file(s) listed in the index do not exist: ${[...missingFiles].join(', ')}`, 'download every shard into the same directory');
    }
    if (absent.length) {
      throw new SafetensorsError(indexPath, `${absent.length} tensor(s) are not in the shard the index names: ${absent.slice(0, 10).join(', ')}${absent.length > 10 ? ', …' : ''}`);
    }
    const meta = (json as { metadata?: unknown }).metadata;
    this.metadata = Object.fromEntries(Object.entries(typeof meta === 'object' && meta ? meta : {}).map(([k, v]) => [k, String(v)]));
    this.weightMap = weightMap;
    this.shards = [...byFile.values()];
  }

  get byteLength(): number {
    return this.shards.reduce((a, s) => a + s.byteLength, 0);
  }
  get bytesRead(): number {
    return this.shards.reduce((a, s) => a + s.bytesRead, 0);
  }
  names(): string[] {
    return [...this.weightMap.keys()];
  }
  has(name: string): boolean {
    return this.weightMap.has(name);
  }
  #shard(name: string): SafetensorsFile {
    const shard = this.weightMap.get(name);
    if (!shard) throw new SafetensorsError(this.path, `no tensor named '${name}' in the index's weight_map (${this.weightMap.size} tensors)`);
    return shard;
  }
  info(name: string): TensorInfo {
    return this.#shard(name).info(name);
  }
  read(name: string, selection?: Selection): RawTensor {
    return this.#shard(name).read(name, selection);
  }
  copyAlongDim(name: string, dim: number, range: Range, dst: Uint8Array, dstDimSize: number, at: number): void {
    this.#shard(name).copyAlongDim(name, dim, range, dst, dstDimSize, at);
  }
}

/**
 * Opens a checkpoint from a directory (its model.safetensors.index.json, else model.safetensors),
 * a .safetensors file, or an index file.
 */
export function openSafetensors(path: string): TensorSource {
  if (!existsSync(path)) throw new SafetensorsError(path, 'no such file or directory');
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, INDEX_FILE))) return new ShardedSafetensors(join(path, INDEX_FILE));
    if (existsSync(join(path, SINGLE_FILE))) return SafetensorsFile.open(join(path, SINGLE_FILE));
    throw new SafetensorsError(path, `neither ${INDEX_FILE} nor ${SINGLE_FILE} is in this directory`, 'point at a Hugging Face checkpoint saved with safe_serialization (the default); .bin checkpoints are not supported');
  }
  if (basename(path).endsWith('.index.json')) return new ShardedSafetensors(path);
  return SafetensorsFile.open(path);
}
