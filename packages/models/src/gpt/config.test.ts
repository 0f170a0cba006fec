import { describe, expect, it } from 'vitest';
import { alibiSlopes } from './alibi.ts';
import { gptParameterCount, resolveGptConfig } from './config.ts';
import { GPT_CONFIGS, gptConfig } from './presets.ts';
import { resolveRecompute } from './recompute.ts';

describe('GPT configs', () => {
  it("fills Megatron's defaults", () => {
    const c = resolveGptConfig({ numLayers: 2, hiddenSize: 64, numAttentionHeads: 4, vocabSize: 100, maxPositionEmbeddings: 32 });
    expect(c).toMatchObject({
      numQueryGroups: 4, kvChannels: 16, ffnHiddenSize: 256, makeVocabSizeDivisibleBy: 128, paddedVocabSize: 128, positionEmbeddingType: 'learned_absolute',
      normalization: 'LayerNorm', layernormEpsilon: 1e-5, swiglu: false, addBiasLinear: true, untieEmbeddingsAndOutputWeights: false,
      hiddenDropout: 0.1, attentionDropout: 0.1, initMethodStd: 0.02, attentionSoftmaxInFp32: true, rotaryBase: 10000, rotaryPercent: 1,
    });
    // SwiGLU's default width: int(4h * 2/3 / 64) * 64.
    expect(resolveGptConfig({ numLayers: 1, hiddenSize: 4096, numAttentionHeads: 32, vocabSize: 8, maxPositionEmbeddings: 8, swiglu: true }).ffnHiddenSize).toBe(10880);
  });

  it('pads the GPT-2 vocabulary to a multiple of 128 x TP', () => {
    expect(resolveGptConfig(GPT_CONFIGS.gpt2, 1).paddedVocabSize).toBe(50304);
    expect(resolveGptConfig(GPT_CONFIGS.gpt2, 2).paddedVocabSize).toBe(50432);
    expect(resolveGptConfig(GPT_CONFIGS.gpt2, 4).paddedVocabSize).toBe(50688);
  });

  it('counts the GPT-2 sizes by name', () => {
    const millions = (n: keyof typeof GPT_CONFIGS) => Math.round(gptParameterCount(GPT_CONFIGS[n]) / 1e5) / 10;
    expect(millions('gpt2')).toBe(124.5); // 124.4M unpadded + 47 padded rows x 768
    expect(millions('gpt2-medium')).toBe(354.9);
    expect(millions('gpt2-large')).toBe(774.1);
    expect(millions('gpt2-xl')).toBe(1557.7);
    expect(gptConfig('gpt2-tiny', { hiddenDropout: 0 }).hiddenDropout).toBe(0);
  });

  it('names every invalid shape, with the fix', () => {
    const base = { numLayers: 2, hiddenSize: 64, numAttentionHeads: 4, vocabSize: 100, maxPositionEmbeddings: 32 };
    expect(() => resolveGptConfig({ ...base, numAttentionHeads: 6 })).toThrow(/hiddenSize \(64\) must be divisible by numAttentionHeads \(6\); change one, or set kvChannels/);
    expect(() => resolveGptConfig(base, 8)).toThrow(/numAttentionHeads \(4\) must be divisible by the tensor-parallel size \(8\)/);
    expect(() => resolveGptConfig({ ...base, numQueryGroups: 3 })).toThrow(/numQueryGroups \(3\) must divide numAttentionHeads \(4\)/);
    expect(() => resolveGptConfig({ ...base, numQueryGroups: 1 }, 2)).toThrow(/numQueryGroups \(1\) must be divisible by the tensor-parallel size \(2\), as Megatron-Core requires/);
    expect(() => resolveGptConfig({ ...base, vocabSize: 0 })).toThrow(/vocabSize must be a positive integer, got 0/);
    expect(() => resolveGptConfig({ ...base, makeVocabSizeDivisibleBy: 0 })).toThrow(/makeVocabSizeDivisibleBy must be a positive integer/);
    expect(() => resolveGptConfig({ ...base, ffnHiddenSize: 100 }, 8)).toThrow(/ffnHiddenSize \(100\) must be divisible by the tensor-parallel size \(8\)/);
    expect(() => resolveGptConfig({ ...base, positionEmbeddingType: 'rope', rotaryPercent: 0.1 })).toThrow(/RoPE rotates kvChannels x rotaryPercent = 1 channels/);
    // Several problems are listed together.
    expect(() => resolveGptConfig({ ...base, numAttentionHeads: 6, numQueryGroups: 4 }, 4)).toThrow(/hiddenSize[\s\S]*numQueryGroups \(4\) must divide[\s\S]*numAttentionHeads \(6\) must be divisible by the tensor-parallel size/);
    expect(() => resolveGptConfig(GPT_CONFIGS['gpt2-xl'], 2)).toThrow(/numAttentionHeads \(25\)/);
  });

  it('ALiBi slopes follow the paper, also for heads that are not a power of two', () => {
    expect(alibiSlopes(8)).toEqual([1 / 2, 1 / 4, 1 / 8, 1 / 16, 1 / 32, 1 / 64, 1 / 128, 1 / 256]);
    const six = alibiSlopes(6);
    expect(six.slice(0, 4)).toEqual(alibiSlopes(4));
    expect(six.slice(4)).toEqual([alibiSlopes(8)[0], alibiSlopes(8)[2]]);
  });

  it('checks recomputation settings', () => {
    expect(resolveRecompute(undefined, 4)).toEqual({ kind: 'none' });
    expect(resolveRecompute({ recomputeGranularity: 'selective' }, 4)).toEqual({ kind: 'selective' });
    expect(resolveRecompute({ recomputeGranularity: 'full', recomputeMethod: 'block', recomputeNumLayers: 2 }, 4)).toEqual({ kind: 'full', method: 'block', numLayers: 2 });
    expect(() => resolveRecompute({ recomputeGranularity: 'full' }, 4)).toThrow(/needs recomputeMethod 'uniform' or 'block', got none/);
    expect(() => resolveRecompute({ recomputeGranularity: 'full', recomputeMethod: 'uniform', recomputeNumLayers: 5 }, 4)).toThrow(/recomputeNumLayers must be an integer in \[1, 4\]/);
    expect(() => resolveRecompute({ recomputeGranularity: 'selective', recomputeMethod: 'uniform' }, 4)).toThrow(/applies to recomputeGranularity 'full' only/);
  });
});
