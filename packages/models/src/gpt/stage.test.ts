// GPT split into pipeline stages in one process: each stage builds only its part under the whole
// model's parameter names and with its initial weights; chaining the stages (hidden states handed
// on by setInputTensor, gradients handed back by backward) gives the whole model's loss and
// gradients, with the tied output weight's gradient on the last stage making up the rest of the
// word embeddings' gradient.
import { Generator, type Parameter, randint, runBackwardMany, scope, type Tensor } from '@tessera/core';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff } from '../../test/helpers.ts';
import { HF_FIXTURES, hfFixturesPresent } from '../../test/hf-fixtures.ts';
import { gptFromHf } from '../hf/pretrained.ts';
import type { GptConfig } from './config.ts';
import { GPTModel } from './model.ts';
import { gptConfig } from './presets.ts';

const gpt2Small = gptConfig('gpt2-tiny', { numLayers: 4, hiddenSize: 32, vocabSize: 100, makeVocabSizeDivisibleBy: 64, maxPositionEmbeddings: 16, hiddenDropout: 0, attentionDropout: 0 });
const llamaSmall = gptConfig('llama-tiny', { numLayers: 4 });

/** Stage boundaries as [start, end) layer ranges. */
function stages(config: GptConfig, ranges: [number, number][]): GPTModel[] {
  return ranges.map((r, i) => new GPTModel(config, { seed: 5, layerRange: r, preProcess: i === 0, postProcess: i === ranges.length - 1 }));
}

function params(m: GPTModel): Record<string, Parameter> {
  return Object.fromEntries(m.namedParameters());
}

/** Forward through the chained stages, then backward stage by stage from the last; returns the mean loss. */
function runChained(parts: GPTModel[], ids: Tensor, labels: Tensor): number {
  return scope(() => {
    const inputs: (Tensor | undefined)[] = [];
    const outputs: Tensor[] = [];
    let x: Tensor | undefined;
    parts.forEach((m, i) => {
      const input = x?.detach();
      if (input) input.requiresGrad = true;
      inputs.push(input);
      m.setInputTensor(input);
      const last = i === parts.length - 1;
      const out = m.forward(i === 0 ? ids : undefined, last ? { labels } : {});
      outputs.push(last ? out.mean() : out);
      x = out;
    });
    let grad: Tensor | undefined;
    for (let i = parts.length - 1; i >= 0; i--) {
      runBackwardMany([outputs[i] as Tensor], [grad]);
      grad = inputs[i]?.grad ?? undefined;
    }
    return (outputs.at(-1) as Tensor).item();
  });
}

describe('GPT pipeline stages', () => {
  it('name their layers globally and start from the whole model\'s weights (tied copy on the last stage)', () => {
    const whole = params(new GPTModel(gpt2Small, { seed: 5 }));
    const [first, last] = stages(gpt2Small, [[0, 1], [1, 4]]).map(params) as [Record<string, Parameter>, Record<string, Parameter>];
    expect(Object.keys(first)).toEqual(['embedding.word_embeddings.weight', 'embedding.position_embeddings.weight', ...Object.keys(whole).filter((n) => n.startsWith('decoder.layers.0.'))]);
    expect(Object.keys(last)).toEqual([...Object.keys(whole).filter((n) => /^decoder\.(layers\.[123]\.|final_layernorm)/.test(n)), 'output_layer.weight']);
    for (const [name, p] of [...Object.entries(first), ...Object.entries(last)]) {
      const want = whole[name === 'output_layer.weight' ? 'embedding.word_embeddings.weight' : name] as Parameter;
      expect(maxAbsDiff(p, want), name).toBe(0);
    }
    expect(last['output_layer.weight']?.meta).toMatchObject({ sharedEmbedding: true, shared: true });
    expect(first['embedding.word_embeddings.weight']?.meta.sharedEmbedding).toBe(true);
  });

  for (const [name, config, ranges] of [
    ['GPT-2 style (tied), 2 stages', gpt2Small, [[0, 2], [2, 4]]],
    ['GPT-2 style (tied), 3 uneven stages', gpt2Small, [[0, 2], [2, 3], [3, 4]]],
    ['Llama style (RoPE, untied), 4 stages', llamaSmall, [[0, 1], [1, 2], [2, 3], [3, 4]]],
  ] as [string, GptConfig, [number, number][]][]) {
    it(`${name}: chained stages give the whole model's loss and gradients`, () => {
      const ids = randint(0, config.vocabSize, [2, 8], { generator: new Generator(1) });
      const labels = randint(0, config.vocabSize, [2, 8], { generator: new Generator(2) });
      const whole = new GPTModel(config, { seed: 5 });
      const ref = scope(() => {
        const loss = whole.forward(ids, { labels }).mean();
        loss.backward();
        return loss.item();
      });
      const parts = stages(config, ranges);
      expect(Math.abs(runChained(parts, ids, labels) - ref)).toBeLessThan(1e-6);
      const wholeParams = params(whole);
      const tiedCopy = (parts.at(-1) as GPTModel).output_layer?.weight?.meta.sharedEmbedding === true;
      let checked = 0;
      for (const part of parts) {
        for (const [n, p] of part.namedParameters()) {
          // The two halves of a tied weight's gradient, summed as the embedding-group all-reduce does.
          let got = p.grad as Tensor;
          if (n === 'embedding.word_embeddings.weight' && tiedCopy) got = got.add((parts.at(-1) as GPTModel).output_layer?.weight?.grad as Tensor);
          if (n === 'output_layer.weight' && tiedCopy) got = got.add((parts[0] as GPTModel).embedding?.word_embeddings.weight.grad as Tensor);
          const want = wholeParams[n === 'output_layer.weight' && tiedCopy ? 'embedding.word_embeddings.weight' : n]?.grad as Tensor;
          expect(maxAbsDiff(got, want), n).toBeLessThan(1e-5);
          checked++;
        }
      }
      expect(checked).toBe(Object.keys(wholeParams).length + (tiedCopy ? 1 : 0));
    });
  }

  it.skipIf(!hfFixturesPresent())('load their part of a Hugging Face checkpoint by global names, the tied copy from the word embeddings', () => {
    const dir = join(HF_FIXTURES, 'gpt2');
    const whole = gptFromHf(dir).model;
    const first = gptFromHf(dir, { postProcess: false, layerRange: [0, 1], strict: false }).model;
    const last = gptFromHf(dir, { preProcess: false, layerRange: [1, 2], strict: false }).model;
    const want = params(whole);
    for (const part of [first, last]) {
      for (const [n, p] of part.namedParameters()) expect(maxAbsDiff(p, want[n === 'output_layer.weight' ? 'embedding.word_embeddings.weight' : n] as Parameter), n).toBe(0);
    }
    expect(Object.keys(params(last))).toContain('output_layer.weight');
    for (const m of [whole, first, last]) m.dispose();
  });

  it('refuse a bad layer range and a later stage without its input', () => {
    expect(() => new GPTModel(gpt2Small, { layerRange: [2, 2] })).toThrow(/layerRange must be integers \[start, end\) with 0 <= start < end <= numLayers \(4\), got \[2, 2\)/);
    expect(() => new GPTModel(gpt2Small, { layerRange: [0, 5] })).toThrow(/numLayers \(4\)/);
    const mid = new GPTModel(gpt2Small, { layerRange: [1, 2], preProcess: false, postProcess: false });
    expect(mid.embedding).toBeUndefined();
    expect(mid.output_layer).toBeUndefined();
    expect(() => mid.forward(undefined)).toThrow(/call setInputTensor\(\) with the previous stage's hidden states \[s, b, 32\] first/);
    expect(() => mid.outputWeight).toThrow(/no output layer/);
  });
});
