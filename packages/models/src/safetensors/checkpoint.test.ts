// Sharded checkpoints through model.safetensors.index.json, and how a checkpoint path is resolved.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSafetensors, ShardedSafetensors } from './checkpoint.ts';
import { SafetensorsFile } from './file.ts';
import { rows } from './selection.ts';
import { type TensorBytes, writeSafetensors, writeShardedSafetensors } from './writer.ts';

function tensors(): Record<string, TensorBytes> {
  const out: Record<string, TensorBytes> = {};
  for (let i = 0; i < 5; i++) out[`w${i}`] = { dtype: 'F32', shape: [4, 2], data: Float32Array.from({ length: 8 }, (_, j) => i * 10 + j) };
  return out;
}

const tmp = () => mkdtempSync(join(tmpdir(), 'tessera-shards-'));

describe('sharded safetensors', () => {
  it('writes shards and an index that the reader follows, reading from the right shard only', () => {
    const dir = tmp();
    const files = writeShardedSafetensors(dir, tensors(), 2);
    expect(files).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(5 * 32);
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(files));
    const ckpt = openSafetensors(dir);
    expect(ckpt).toBeInstanceOf(ShardedSafetensors);
    expect(ckpt.names().sort()).toEqual(['w0', 'w1', 'w2', 'w3', 'w4']);
    const got = ckpt.read('w3', rows(1, 2));
    expect(Array.from(new Float32Array(got.bytes.slice().buffer))).toEqual([32, 33]);
    expect(ckpt.bytesRead).toBe(8);
    const sharded = ckpt as ShardedSafetensors;
    const holder = sharded.weightMap.get('w3');
    expect(holder?.path.endsWith(index.weight_map.w3)).toBe(true);
    expect(sharded.shards.find((s) => s !== holder)?.bytesRead).toBe(0);
  });

  it('resolves a directory with one file, a file, and an index path', () => {
    const dir = tmp();
    writeSafetensors(join(dir, 'model.safetensors'), tensors());
    expect(openSafetensors(dir)).toBeInstanceOf(SafetensorsFile);
    expect(openSafetensors(join(dir, 'model.safetensors')).names()).toHaveLength(5);
    const sharded = tmp();
    writeShardedSafetensors(sharded, tensors(), 3);
    expect(openSafetensors(join(sharded, 'model.safetensors.index.json')).names()).toHaveLength(5);
  });

  it('explains what is wrong with a directory or an index', () => {
    const empty = tmp();
    expect(() => openSafetensors(empty)).toThrow('neither model.safetensors.index.json nor model.safetensors is in this directory');
    expect(() => openSafetensors(join(empty, 'nope'))).toThrow('no such file or directory');

    const dir = tmp();
    const files = writeShardedSafetensors(dir, tensors(), 2);
    rmSync(join(dir, files[1] as string));
    expect(() => openSafetensors(dir)).toThrow(`shard file(s) listed in the index do not exist: ${files[1]}. download every shard`);

    const moved = tmp();
    writeShardedSafetensors(moved, tensors(), 2);
    const indexPath = join(moved, 'model.safetensors.index.json');
    const index = JSON.parse(readFileSync(indexPath, 'utf8'));
    index.weight_map.w0 = files[1];
    index.weight_map.w4 = files[0];
    writeFileSync(indexPath, JSON.stringify(index));
    expect(() => openSafetensors(moved)).toThrow(/2 tensor\(s\) are not in the shard the index names: 'w0' \(listed in model-00002-of-00002.safetensors\)/);

    writeFileSync(indexPath, JSON.stringify({ metadata: {} }));
    expect(() => openSafetensors(moved)).toThrow('the shard index has no "weight_map" object');
  });
});
