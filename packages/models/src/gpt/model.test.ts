// The GPT model in one process: Megatron-Core parameter names and shapes (the HF-interop
// contract), the same full weights at every TP size, logits equal to an independent dense
// implementation, recomputation equal to none, and memory returning to its baseline.
import { liveTensorCount, noGrad, randint, scope, type Tensor, tensor } from '@tessera/core';
import { modelParallelManualSeed, RngTracker, tensorParallel } from '@tessera/tensor-parallel';
import { describe, expect, it } from 'vitest';
import { denseLogits } from '../../test/dense-gpt.ts';
import { maxAbsDiff, offlineTp, reassemble, shapes } from '../../test/helpers.ts';
import type { GptConfig } from './config.ts';
import { maskedMeanLoss } from './loss.ts';
import { attentionMaskFromPadding } from './masks.ts';
import { GPTModel } from './model.ts';
import { gptConfig } from './presets.ts';
import type { RecomputeConfig } from './recompute.ts';

const gpt2Tiny = gptConfig('gpt2-tiny', { vocabSize: 300, maxPositionEmbeddings: 64, hiddenDropout: 0, attentionDropout: 0 });
const llamaTiny = gptConfig('llama-tiny');

describe('GPT parameter names and shapes (Megatron-Core local spec)', () => {
  it('GPT-2 style at TP=2: biases, learned positions, tied output (no output_layer.weight)', () => {
    const m = new GPTModel({ ...gpt2Tiny, numLayers: 1 }, { tp: offlineTp(0, 2) });
    expect(shapes(m)).toEqual({
      'embedding.word_embeddings.weight': [256, 64], // 300 padded to 512 (a multiple of 128 x 2), half per rank
      'embedding.position_embeddings.weight': [64, 64],
      'decoder.layers.0.input_layernorm.weight': [64],
      'decoder.layers.0.input_layernorm.bias': [64],
      'decoder.layers.0.self_attention.linear_qkv.weight': [96, 64],
      'decoder.layers.0.self_attention.linear_qkv.bias': [96],
      'decoder.layers.0.self_attention.linear_proj.weight': [64, 32],
      'decoder.layers.0.self_attention.linear_proj.bias': [64],
      'decoder.layers.0.pre_mlp_layernorm.weight': [64],
      'decoder.layers.0.pre_mlp_layernorm.bias': [64],
      'decoder.layers.0.mlp.linear_fc1.weight': [128, 64],
      'decoder.layers.0.mlp.linear_fc1.bias': [128],
      'decoder.layers.0.mlp.linear_fc2.weight': [64, 128],
      'decoder.layers.0.mlp.linear_fc2.bias': [64],
      'decoder.final_layernorm.weight': [64],
      'decoder.final_layernorm.bias': [64],
    });
    expect(m.embedding?.word_embeddings.weight.meta).toEqual({ tensorParallel: true, partitionDim: 0, partitionStride: 1, sharedEmbedding: true });
    expect(Object.keys(m.stateDict())).not.toContain('output_layer.weight');
  });

  it('Llama style at TP=2: RMSNorm, GQA qkv [(nq + 2 nkv) d / tp, h], SwiGLU fc1 [2 ffn / tp, h], no biases, untied', () => {
    const m = new GPTModel({ ...llamaTiny, numLayers: 1 }, { tp: offlineTp(1, 2, true) });
    expect(shapes(m)).toEqual({
      'embedding.word_embeddings.weight': [128, 64],
      'decoder.layers.0.input_layernorm.weight': [64],
      'decoder.layers.0.self_attention.linear_qkv.weight': [(4 + 2 * 2) * 16 / 2, 64],
      'decoder.layers.0.self_attention.linear_proj.weight': [64, 32],
      'decoder.layers.0.pre_mlp_layernorm.weight': [64],
      'decoder.layers.0.mlp.linear_fc1.weight': [128, 64],
      'decoder.layers.0.mlp.linear_fc2.weight': [64, 64],
      'decoder.final_layernorm.weight': [64],
      'output_layer.weight': [128, 64],
    });
    expect(m.decoder.layers[0]?.mlp.linear_fc1.weight?.meta).toEqual({ tensorParallel: true, partitionDim: 0, partitionStride: 2 });
    expect(m.decoder.final_layernorm?.weight?.meta).toEqual({ sequenceParallel: true });
    expect(m.output_layer?.weight?.meta).toEqual({ tensorParallel: true, partitionDim: 0, partitionStride: 1 });
  });
});

describe('TP-invariant initialization of the whole model', () => {
  for (const [name, config] of [['GPT-2 tiny (GPT-2 vocabulary, padded differently per TP)', gptConfig('gpt2-tiny')], ['Llama tiny', { ...llamaTiny, numQueryGroups: 4 }]] as const) {
    it(`${name}: TP=2 and TP=4 slices reassemble to the TP=1 weights`, () => {
      const full = new GPTModel(config, { seed: 99 });
      const ref = full.stateDict();
      for (const tp of [2, 4]) {
        const ranks = Array.from({ length: tp }, (_, r) => new GPTModel(config, { tp: offlineTp(r, tp), seed: 99 }));
        const params = ranks.map((m) => Object.fromEntries(m.namedParameters()));
        for (const [key, want] of Object.entries(ref)) {
          let got = reassemble(params.map((p) => p[key] as NonNullable<(typeof p)[string]>));
          // The vocabulary is padded to 128 x TP: compare the rows TP=1 has.
          if (key.endsWith('word_embeddings.weight') || key === 'output_layer.weight') got = got.narrow(0, 0, want.shape[0] as number);
          expect(maxAbsDiff(got, want), `${key} at TP=${tp}`).toBe(0);
        }
        for (const m of ranks) m.dispose();
      }
      full.dispose();
    });
  }
});

describe('GPT forward at TP=1', () => {
  const cases: [string, GptConfig][] = [
    ['GPT-2 style', gpt2Tiny],
    ['Llama style (RoPE + GQA + SwiGLU + RMSNorm, no biases, untied)', llamaTiny],
    ['multi-query attention with partial RoPE', { ...llamaTiny, numQueryGroups: 1, rotaryPercent: 0.5, rotaryBase: 500 }],
    ['ALiBi with 6 heads, no biases, untied', { ...gpt2Tiny, positionEmbeddingType: 'alibi', hiddenSize: 48, numAttentionHeads: 6, addBiasLinear: false, untieEmbeddingsAndOutputWeights: true }],
  ];
  for (const [name, config] of cases) {
    it(`${name}: logits equal the dense reference`, () => {
      scope(() => {
        const m = new GPTModel(config, { seed: 5 });
        noGrad(() => {
          for (const [n, p] of m.namedParameters()) if (n.endsWith('bias') || n.includes('layernorm')) p.uniform_(-0.5, 0.5); // non-trivial norms and biases
        });
        const ids = randint(0, config.vocabSize, [2, 12]);
        const logits = m.forward(ids);
        expect(logits.shape).toEqual([2, 12, m.config.paddedVocabSize]);
        expect(maxAbsDiff(logits, denseLogits(m, ids))).toBeLessThan(2e-5);
        m.dispose();
      });
    });
  }

  it('with labels it returns the per-token loss, which the masked mean averages', () => {
    scope(() => {
      const m = new GPTModel(gpt2Tiny, { seed: 5 });
      const ids = randint(0, 300, [2, 8]);
      const labels = randint(0, 300, [2, 8]);
      const loss = m.forward(ids, { labels });
      expect(loss.shape).toEqual([2, 8]);
      expect(loss.dtype).toBe('f32');
      const logits = m.forward(ids);
      const ref = logits.logSoftmax(-1).gather(-1, labels.unsqueeze(-1)).squeeze(-1).neg();
      expect(maxAbsDiff(loss, ref)).toBeLessThan(1e-5);
      const mask = tensor([[1, 1, 1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1, 1]]);
      const values = loss.toArray();
      const want = [...values.slice(0, 4), ...values.slice(8)].reduce((a, b) => a + b, 0) / 12;
      expect(Math.abs(maskedMeanLoss(loss, mask).item() - want)).toBeLessThan(1e-6);
    });
  });

  it('a padding mask hides padded keys: the real tokens do not change with what the padding holds', () => {
    scope(() => {
      const m = new GPTModel({ ...llamaTiny, numLayers: 1 }, { seed: 5 });
      const keep = tensor([[0, 0, 1, 1, 1, 1]]); // left padding
      const mask = attentionMaskFromPadding(keep);
      const a = m.forward(tensor([[7, 9, 1, 2, 3, 4]], { dtype: 'i64' }), { attentionMask: mask });
      const b = m.forward(tensor([[200, 100, 1, 2, 3, 4]], { dtype: 'i64' }), { attentionMask: mask });
      expect(maxAbsDiff(a.narrow(1, 2, 4), b.narrow(1, 2, 4))).toBe(0);
      expect(() => m.forward(tensor([[1, 2]], { dtype: 'i64' }), { attentionMask: keep })).toThrow(/attentionMask must be bool \(true = masked/);
    });
  });

  it('bf16 weights run with the softmax in fp32 and give logits close to fp32', () => {
    scope(() => {
      const ids = randint(0, 256, [2, 8]);
      const f32 = new GPTModel(llamaTiny, { seed: 5 }).forward(ids);
      const bf16 = new GPTModel(llamaTiny, { seed: 5, dtype: 'bf16' }).forward(ids);
      expect(bf16.dtype).toBe('bf16');
      expect(maxAbsDiff(bf16.float(), f32)).toBeLessThan(0.05);
    });
  });

  it('refuses a TensorParallel whose RNG tracker is for another device', () => {
    // A tracker for a GPU this machine may not have: only its device is read.
    const elsewhere = Object.assign(Object.create(RngTracker.prototype) as RngTracker, { device: 'cuda:1' });
    expect(() => new GPTModel(llamaTiny, { tp: { ...offlineTp(0, 1), rng: elsewhere } })).toThrow(/the model is on cpu but its TensorParallel's RNG tracker swaps the generator of cuda:1; pass \{ device: 'cpu' \} to tensorParallel\(\)/);
  });

  it('refuses inputs it cannot run, naming the problem', () => {
    const m = new GPTModel({ ...gpt2Tiny, maxPositionEmbeddings: 8, numLayers: 1 });
    expect(() => m.forward(randint(0, 10, [1, 9]))).toThrow(/the sequence has 9 tokens, more than maxPositionEmbeddings \(8\)/);
    expect(() => m.forward(randint(0, 10, [4]))).toThrow(/inputIds must be integer \[b, s\]/);
    expect(() => m.forward(randint(0, 10, [1, 4]), { labels: randint(0, 10, [1, 5]) })).toThrow(/labels must be \[1, 4\] like inputIds/);
  });
});

describe('activation recomputation gives the same loss and gradients as none (with dropout)', () => {
  const recomputes: [string, RecomputeConfig][] = [
    ['selective (core attention)', { recomputeGranularity: 'selective' }],
    ['full, uniform, 1 layer per chunk', { recomputeGranularity: 'full', recomputeMethod: 'uniform', recomputeNumLayers: 1 }],
    ['full, uniform, 2 layers per chunk', { recomputeGranularity: 'full', recomputeMethod: 'uniform', recomputeNumLayers: 2 }],
    ['full, block, first layer', { recomputeGranularity: 'full', recomputeMethod: 'block', recomputeNumLayers: 1 }],
  ];
  const config = gptConfig('llama-tiny', { numLayers: 3, hiddenDropout: 0.2, attentionDropout: 0.2 });

  function run(recompute: RecomputeConfig | undefined): { loss: number; grads: Record<string, number[]> } {
    const tp = tensorParallel(undefined);
    const m = new GPTModel(config, { tp, seed: 3, recompute });
    modelParallelManualSeed(42, tp);
    const out = scope(() => {
      const ids = tensor([[1, 5, 9, 13, 17, 21, 25, 29], [2, 4, 6, 8, 10, 12, 14, 16]], { dtype: 'i64' });
      const loss = m.forward(ids, { labels: ids.add(1) }).mean();
      loss.backward();
      return { loss: loss.item(), grads: Object.fromEntries([...m.namedParameters()].map(([n, p]) => [n, (p.grad as Tensor).toArray()])) };
    });
    m.dispose();
    tp.rng.dispose();
    return out;
  }

  const none = run(undefined);
  for (const [name, recompute] of recomputes) {
    it(name, () => {
      const got = run(recompute);
      expect(got.loss).toBe(none.loss);
      for (const [n, g] of Object.entries(none.grads)) {
        const worst = Math.max(...g.map((v, i) => Math.abs(v - (got.grads[n]?.[i] as number))));
        expect(worst, n).toBeLessThan(1e-6);
      }
    });
  }

  it('recomputation keeps fewer activations between forward and backward (full < selective < none)', () => {
    const held = (recompute: RecomputeConfig | undefined) => {
      const m = new GPTModel(config, { seed: 3, recompute });
      const ids = tensor([[1, 5, 9, 13, 17, 21, 25, 29]], { dtype: 'i64' });
      const before = liveTensorCount();
      const loss = m.forward(ids, { labels: ids }).mean();
      const alive = liveTensorCount() - before;
      loss.dispose();
      m.dispose();
      return alive;
    };
    const full = held(recomputes[1]?.[1]);
    const selective = held(recomputes[0]?.[1]);
    expect(full).toBeLessThan(selective);
    expect(selective).toBeLessThan(held(undefined));
  });

  it('dropout really was on (the losses with and without it differ)', () => {
    const tp = tensorParallel(undefined);
    modelParallelManualSeed(42, tp);
    const m = new GPTModel({ ...config, hiddenDropout: 0, attentionDropout: 0 }, { tp, seed: 3 });
    const ids = tensor([[1, 5, 9, 13, 17, 21, 25, 29], [2, 4, 6, 8, 10, 12, 14, 16]], { dtype: 'i64' });
    const loss = scope(() => m.forward(ids, { labels: ids.add(1) }).mean().item());
    expect(loss).not.toBe(none.loss);
  });
});

describe('memory', () => {
  it('a forward and backward frees everything but the gradients', () => {
    const m = new GPTModel(gptConfig('llama-tiny', { hiddenDropout: 0.1, attentionDropout: 0.1 }), { recompute: { recomputeGranularity: 'selective' } });
    const ids = randint(0, 256, [2, 8]);
    const step = () => {
      scope(() => m.forward(ids, { labels: ids }).mean().backward());
      m.zeroGrad();
    };
    step();
    const baseline = liveTensorCount();
    step();
    expect(liveTensorCount()).toBe(baseline);
  });
});
