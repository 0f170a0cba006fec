// The loader against an independent reference: Hugging Face checkpoints written from known
// tensors (GPT-2's transposed Conv1D and packed c_attn, Llama's separate q/k/v and gate/up), loaded
// at TP=1, 2 and 4, every rank's every parameter compared with a slicing computed here by index
// arithmetic, and the bytes each rank read counted.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tensor } from '@tessera/core';
import { moduleWithParameters } from '../../test/hf-helpers.ts';
import {
  GPT2, gpt2Checkpoint, gpt2Tessera, LLAMA, llamaCheckpoint, llamaTessera, type Mat, mat, rankPart, withTp,
} from '../../test/hf-reference.ts';
import { openSafetensors } from '../safetensors/checkpoint.ts';
import { type TensorBytes, writeSafetensors, writeShardedSafetensors } from '../safetensors/writer.ts';
import type { GptDims } from './layout.ts';
import { HfCheckpointError, loadHfWeights } from './load.ts';

const asBytes = (t: Record<string, Mat>): Record<string, TensorBytes> =>
  Object.fromEntries(Object.entries(t).map(([n, m]) => [n, { dtype: 'F32', shape: m.shape, data: m.data }]));

function writeCheckpoint(t: Record<string, Mat>, shards = 1): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-hf-'));
  if (shards > 1) writeShardedSafetensors(dir, asBytes(t), shards);
  else writeSafetensors(join(dir, 'model.safetensors'), asBytes(t), { format: 'pt' });
  return dir;
}

interface Case {
  family: 'gpt2' | 'llama';
  dir: string;
  full: (dims: GptDims) => Record<string, Mat>;
  base: GptDims;
  gated: boolean;
  tied: boolean;
}

/** Loads every rank at `tp` and checks each parameter against the reference; returns bytes read per rank. */
function checkAllRanks(c: Case, tp: number): number[] {
  const dims = withTp(c.base, tp);
  const full = c.full(dims);
  const read: number[] = [];
  for (let r = 0; r < tp; r++) {
    const expected = Object.fromEntries(Object.entries(full).map(([n, m]) => [n, rankPart(n, m, tp, r, c.gated)]));
    const model = moduleWithParameters(Object.fromEntries(Object.entries(expected).map(([n, m]) => [n, m.shape])));
    const report = loadHfWeights(model, c.dir, { family: c.family, dims, gated: c.gated, tied: c.tied, tp: { rank: r, size: tp } });
    expect(report.loaded.sort()).toEqual(Object.keys(expected).sort());
    for (const [name, p] of model.namedParameters()) {
      expect(p.toArray(), `${name} on rank ${r} of ${tp}`).toEqual(Array.from((expected[name] as Mat).data));
    }
    // Exactly this rank's elements were read: its slices minus the vocab padding rows.
    const padRowsHere = (m: Mat, n: string) => (/word_embeddings|output_layer/.test(n) ? Math.max(0, Math.min(m.shape[0] as number, (r + 1) * (m.shape[0] as number) - c.base.vocabSize) ) : 0);
    const want = Object.entries(expected).reduce((a, [n, m]) => a + (m.data.length - padRowsHere(m, n) * (m.shape[1] ?? 1)) * 4, 0);
    expect(report.bytesRead, `bytes read on rank ${r} of ${tp}`).toBe(want);
    read.push(report.bytesRead);
    model.dispose();
  }
  return read;
}

const gpt2Case = (dir: string): Case => ({ family: 'gpt2', dir, full: (d) => gpt2Tessera(gpt2Checkpoint(), d), base: GPT2, gated: false, tied: true });
const llamaCase = (dir: string, bias: boolean): Case => ({ family: 'llama', dir, full: (d) => llamaTessera(llamaCheckpoint(bias), d, bias), base: LLAMA, gated: true, tied: false });

describe('loading Hugging Face checkpoints into tensor-parallel layouts', () => {
  it.each([1, 2, 4])('GPT-2 (Conv1D transposes, packed c_attn regrouped per head, vocab padding) at TP=%i', (tp) => {
    const dir = writeCheckpoint(gpt2Checkpoint());
    const read = checkAllRanks(gpt2Case(dir), tp);
    const total = openSafetensors(dir).byteLength;
    if (tp === 4) for (const b of read) expect(b / total).toBeLessThan(0.4);
  });

  it('GPT-2 saved by GPT2LMHeadModel: transformer. prefix, a tied lm_head alias and mask buffers are skipped', () => {
    const t = Object.fromEntries(Object.entries(gpt2Checkpoint()).map(([n, m]) => [`transformer.${n}`, m]));
    t['lm_head.weight'] = t['transformer.wte.weight'] as Mat;
    t['transformer.h.0.attn.bias'] = mat([1, 1, 4, 4], 9);
    t['transformer.h.1.attn.masked_bias'] = mat([], 9);
    checkAllRanks(gpt2Case(writeCheckpoint(t)), 2);
  });

  it.each([1, 2, 4])('Llama (separate q/k/v into grouped GQA rows, [gate; up] per rank, untied output, biases) at TP=%i', (tp) => {
    checkAllRanks(llamaCase(writeCheckpoint(llamaCheckpoint(true)), true), tp);
  });

  it('Llama from a sharded checkpoint without biases, each rank reading a fraction of the shards', () => {
    const dir = writeCheckpoint(llamaCheckpoint(false), 2);
    const read = checkAllRanks(llamaCase(dir, false), 4);
    for (const b of read) expect(b / openSafetensors(dir).byteLength).toBeLessThan(0.4);
  });

  it('fills a separate output_layer from the embedding when the model keeps one while tied', () => {
    const dims = withTp(GPT2, 2);
    const full = gpt2Tessera(gpt2Checkpoint(), dims);
    full['output_layer.weight'] = full['embedding.word_embeddings.weight'] as Mat;
    const model = moduleWithParameters(Object.fromEntries(Object.entries(full).map(([n, m]) => [n, rankPart(n, m, 2, 1, false).shape])));
    loadHfWeights(model, writeCheckpoint(gpt2Checkpoint()), { family: 'gpt2', dims, gated: false, tied: true, tp: { rank: 1, size: 2 } });
    const sd = model.stateDict();
    expect(sd['output_layer.weight']?.toArray()).toEqual(Array.from(rankPart('output_layer.weight', full['output_layer.weight'] as Mat, 2, 1, false).data));
  });

  it('converts dtypes: an fp32 checkpoint into bf16 parameters', () => {
    const dims = withTp(GPT2, 1);
    const full = gpt2Tessera(gpt2Checkpoint(), dims);
    const model = moduleWithParameters(Object.fromEntries(Object.entries(full).map(([n, m]) => [n, m.shape])), 'bf16');
    loadHfWeights(model, writeCheckpoint(gpt2Checkpoint()), { family: 'gpt2', dims, gated: false, tied: true });
    const w = model.stateDict()['decoder.layers.1.self_attention.linear_qkv.weight'];
    expect(w?.dtype).toBe('bf16');
    const ref = full['decoder.layers.1.self_attention.linear_qkv.weight'] as Mat;
    expect(w?.toArray()).toEqual(tensor(ref.data, { dtype: 'bf16' }).toArray());
  });
});

describe('loader errors list every problem before reading anything', () => {
  const dims = withTp(GPT2, 1);
  const shapes = () => Object.fromEntries(Object.entries(gpt2Tessera(gpt2Checkpoint(), dims)).map(([n, m]) => [n, m.shape]));
  const load = (ckpt: Record<string, Mat>, model = moduleWithParameters(shapes()), extra: object = {}) =>
    loadHfWeights(model, writeCheckpoint(ckpt), { family: 'gpt2', dims, gated: false, tied: true, ...extra });
  const failure = (f: () => unknown): HfCheckpointError => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(HfCheckpointError);
      return e as HfCheckpointError;
    }
    throw new Error('expected the load to fail');
  };

  it('missing, unexpected and mis-shaped tensors, all at once', () => {
    const t = gpt2Checkpoint();
    delete t['h.1.mlp.c_fc.bias'];
    t['h.2.ln_1.weight'] = mat([8], 1);
    t['h.0.attn.c_proj.weight'] = mat([8, 6], 1);
    const model = moduleWithParameters(shapes());
    const e = failure(() => load(t, model));
    expect(e.missing).toEqual(['h.1.mlp.c_fc.bias (for decoder.layers.1.mlp.linear_fc1.bias)']);
    expect(e.unexpected).toEqual(['h.2.ln_1.weight']);
    expect(e.misshaped).toEqual(['h.0.attn.c_proj.weight is [8, 6] in the checkpoint; decoder.layers.0.self_attention.linear_proj.weight needs [8, 8]']);
    expect(e.message).toMatch(/missing checkpoint tensors \(1\)[\s\S]*unexpected checkpoint tensors[\s\S]*shape mismatches/);
    expect(model.stateDict()['decoder.layers.0.input_layernorm.weight']?.toArray().every((v) => v === 0)).toBe(true);
  });

  it('unexpected tensors are skipped with strict: false', () => {
    const t = gpt2Checkpoint();
    t['h.0.attn.rotary'] = mat([2], 1);
    expect(load(t, undefined, { strict: false }).skipped).toContain('h.0.attn.rotary');
  });

  it('a model whose parameters disagree with the config, or that the map does not cover', () => {
    const s = shapes();
    s['decoder.layers.0.mlp.linear_fc1.weight'] = [16, 8];
    s['decoder.layers.0.mlp.extra.weight'] = [8];
    const e = failure(() => load(gpt2Checkpoint(), moduleWithParameters(s)));
    expect(e.misshaped).toEqual(["the model's 'decoder.layers.0.mlp.linear_fc1.weight' is [16, 8], but the config gives [32, 8] on tensor-parallel rank 0 of 1"]);
    expect(e.other).toEqual(["the model's parameter 'decoder.layers.0.mlp.extra.weight' has no Hugging Face counterpart: no entry in the gpt2 name map"]);
  });

  it("a model that partitions a weight along another dimension than Megatron's", () => {
    const d2 = withTp(GPT2, 2);
    const full = gpt2Tessera(gpt2Checkpoint(), d2);
    const model = moduleWithParameters(Object.fromEntries(Object.entries(full).map(([n, m]) => [n, rankPart(n, m, 2, 0, false).shape])));
    const w = model.stateDict()['decoder.layers.0.self_attention.linear_proj.weight'];
    if (w && 'meta' in w) w.meta = { tensorParallel: true, partitionDim: 0, partitionStride: 1 };
    const e = failure(() => loadHfWeights(model, writeCheckpoint(gpt2Checkpoint()), { family: 'gpt2', dims: d2, gated: false, tied: true, tp: { rank: 0, size: 2 } }));
    expect(e.other).toEqual(["the model partitions 'decoder.layers.0.self_attention.linear_proj.weight' along dimension 0, the gpt2 map along 1"]);
  });

  it('a checkpoint of another family, and sizes that do not split over the ranks', () => {
    expect(() => load(llamaCheckpoint(false))).toThrow('this is not a gpt2 checkpoint: it has no transformer.wte.weight or wte.weight');
    const llama = withTp({ ...LLAMA, numQueryGroups: 2, numAttentionHeads: 4 }, 4);
    const model = moduleWithParameters({ 'decoder.layers.0.self_attention.linear_qkv.weight': [4, 8] });
    expect(() => loadHfWeights(model, writeCheckpoint(llamaCheckpoint(false)), { family: 'llama', dims: llama, gated: true, tied: false, tp: { rank: 0, size: 4 }, strict: false }))
      .toThrow('the number of query groups (2) is not divisible by the tensor-parallel size 4');
  });
});
