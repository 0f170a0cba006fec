// WikiText-2 (bundled with @tessera/datasets) as GPT blocks, and the micro-batch of one
// data-parallel rank: every rank of a tensor-parallel group gets the same batch.
import { type Tensor, tensor } from '@tessera/core';
import { gpt2Tokenizer, readWikiText2, TextDataset } from '@tessera/datasets';

export interface Splits {
  train: TextDataset;
  valid: TextDataset;
}

export function loadWikiText2(blockSize: number, seed: number): Splits {
  const tokenizer = gpt2Tokenizer();
  return {
    train: TextDataset.fromText(readWikiText2('train'), tokenizer, { blockSize, seed }),
    valid: TextDataset.fromText(readWikiText2('valid'), tokenizer, { blockSize }),
  };
}

export interface MicroBatch {
  ids: Tensor;
  labels: Tensor;
  lossMask: Tensor;
}

/** Blocks [start, start + size) of `data` as tensors [size, blockSize]. */
export function microBatch(data: TextDataset, start: number, size: number, device: string): MicroBatch {
  const samples = Array.from({ length: size }, (_, i) => data.get(start + i));
  const block = data.blockSize;
  const ints = (f: 'tokens' | 'labels') => tensor(Int32Array.from(samples.flatMap((s) => [...s[f]])), { shape: [size, block], dtype: 'i64', device });
  const mask = Float32Array.from(samples.flatMap((s) => [...s.lossMask]));
  return { ids: ints('tokens'), labels: ints('labels'), lossMask: tensor(mask, { shape: [size, block], device }) };
}
