// An independent reference for the loader tests: tiny Hugging Face checkpoints (GPT-2 and Llama)
// from seeded values, the full Tessera tensors they should become (computed element by element
// from the contract's layouts, not with the loader's range arithmetic), and each TP rank's part.
import type { GptDims } from '../src/hf/layout.ts';
import { seededFloats } from './hf-helpers.ts';

export interface Mat {
  shape: number[];
  data: Float32Array;
}
export const mat = (shape: number[], seed: number): Mat => ({ shape, data: seededFloats(shape.reduce((a, b) => a * b, 1), seed) });
export const build = (shape: number[], at: (...idx: number[]) => number): Mat => {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  if (shape.length === 1) for (let i = 0; i < (shape[0] as number); i++) data[i] = at(i);
  else for (let i = 0; i < (shape[0] as number); i++) for (let j = 0; j < (shape[1] as number); j++) data[i * (shape[1] as number) + j] = at(i, j);
  return { shape, data };
};
export const get = (m: Mat, i: number, j = 0) => m.data[m.shape.length === 1 ? i : i * (m.shape[1] as number) + j] as number;

// ---- the reference: full Tessera tensors from Hugging Face ones, by index arithmetic ----------

/** The Hugging Face weight row (or Conv1D column) for Tessera's grouped linear_qkv row R. */
export function qkvSource(R: number, dims: GptDims): { part: 0 | 1 | 2; row: number } {
  const { numAttentionHeads: nq, numQueryGroups: g, kvChannels: d } = dims;
  const qPerGroup = nq / g;
  const perGroup = (qPerGroup + 2) * d;
  const group = Math.floor(R / perGroup);
  const w = R % perGroup;
  if (w < qPerGroup * d) return { part: 0, row: group * qPerGroup * d + w };
  if (w < (qPerGroup + 1) * d) return { part: 1, row: group * d + (w - qPerGroup * d) };
  return { part: 2, row: group * d + (w - (qPerGroup + 1) * d) };
}

export const padRows = (m: Mat, rows: number): Mat => build([rows, m.shape[1] as number], (i, j) => (i < (m.shape[0] as number) ? get(m, i, j as number) : 0));
export const transpose = (m: Mat): Mat => build([m.shape[1] as number, m.shape[0] as number], (i, j) => get(m, j as number, i));

export function chunk(m: Mat, dim: number, n: number, r: number): Mat {
  const shape = [...m.shape];
  const per = (shape[dim] as number) / n;
  shape[dim] = per;
  if (m.shape.length === 1) return build(shape, (i) => get(m, r * per + i));
  return build(shape, (i, j) => (dim === 0 ? get(m, r * per + i, j) : get(m, i, r * per + (j as number))));
}

export function catRows(a: Mat, b: Mat): Mat {
  return { shape: [(a.shape[0] as number) + (b.shape[0] as number), ...a.shape.slice(1)], data: Float32Array.from([...a.data, ...b.data]) };
}

/** Rank r's part of a full Tessera tensor, by the contract's partitioning. */
export function rankPart(name: string, full: Mat, tp: number, r: number, swiglu: boolean): Mat {
  if (/linear_qkv|word_embeddings|output_layer|linear_fc1\.(weight|bias)/.test(name)) {
    if (swiglu && name.includes('linear_fc1')) {
      const half = (full.shape[0] as number) / 2;
      const gate = full.shape.length === 1 ? build([half], (i) => get(full, i)) : build([half, full.shape[1] as number], (i, j) => get(full, i, j));
      const up = full.shape.length === 1 ? build([half], (i) => get(full, half + i)) : build([half, full.shape[1] as number], (i, j) => get(full, half + i, j));
      return catRows(chunk(gate, 0, tp, r), chunk(up, 0, tp, r));
    }
    return chunk(full, 0, tp, r);
  }
  if (/linear_proj\.weight|linear_fc2\.weight/.test(name)) return chunk(full, 1, tp, r);
  return full;
}

// ---- tiny GPT-2 -------------------------------------------------------------------------------

export const GPT2: GptDims = { numLayers: 2, hiddenSize: 8, numAttentionHeads: 4, numQueryGroups: 4, kvChannels: 2, ffnHiddenSize: 32, vocabSize: 50, paddedVocabSize: 0, maxPositionEmbeddings: 16 };
export const DIVISIBLE_BY = 4;
export const withTp = (dims: GptDims, tp: number): GptDims => ({ ...dims, paddedVocabSize: Math.ceil(dims.vocabSize / (DIVISIBLE_BY * tp)) * DIVISIBLE_BY * tp });

export function gpt2Checkpoint(): Record<string, Mat> {
  const { hiddenSize: h, ffnHiddenSize: f, vocabSize: V, maxPositionEmbeddings: P } = GPT2;
  const t: Record<string, Mat> = { 'wte.weight': mat([V, h], 1), 'wpe.weight': mat([P, h], 2), 'ln_f.weight': mat([h], 3), 'ln_f.bias': mat([h], 4) };
  for (let i = 0; i < GPT2.numLayers; i++) {
    const s = 100 * (i + 1);
    Object.assign(t, {
      [`h.${i}.ln_1.weight`]: mat([h], s + 1), [`h.${i}.ln_1.bias`]: mat([h], s + 2),
      [`h.${i}.attn.c_attn.weight`]: mat([h, 3 * h], s + 3), [`h.${i}.attn.c_attn.bias`]: mat([3 * h], s + 4),
      [`h.${i}.attn.c_proj.weight`]: mat([h, h], s + 5), [`h.${i}.attn.c_proj.bias`]: mat([h], s + 6),
      [`h.${i}.ln_2.weight`]: mat([h], s + 7), [`h.${i}.ln_2.bias`]: mat([h], s + 8),
      [`h.${i}.mlp.c_fc.weight`]: mat([h, f], s + 9), [`h.${i}.mlp.c_fc.bias`]: mat([f], s + 10),
      [`h.${i}.mlp.c_proj.weight`]: mat([f, h], s + 11), [`h.${i}.mlp.c_proj.bias`]: mat([h], s + 12),
    });
  }
  return t;
}

export function gpt2Tessera(hf: Record<string, Mat>, dims: GptDims): Record<string, Mat> {
  const h = dims.hiddenSize;
  const at = (n: string) => hf[n] as Mat;
  const out: Record<string, Mat> = {
    'embedding.word_embeddings.weight': padRows(at('wte.weight'), dims.paddedVocabSize),
    'embedding.position_embeddings.weight': at('wpe.weight'),
  };
  for (let i = 0; i < dims.numLayers; i++) {
    const L = `decoder.layers.${i}`;
    const col = (R: number) => {
      const { part, row } = qkvSource(R, dims);
      return part * h + row; // c_attn's output columns are [q | k | v]
    };
    Object.assign(out, {
      [`${L}.input_layernorm.weight`]: at(`h.${i}.ln_1.weight`), [`${L}.input_layernorm.bias`]: at(`h.${i}.ln_1.bias`),
      [`${L}.self_attention.linear_qkv.weight`]: build([3 * h, h], (R, c) => get(at(`h.${i}.attn.c_attn.weight`), c as number, col(R))),
      [`${L}.self_attention.linear_qkv.bias`]: build([3 * h], (R) => get(at(`h.${i}.attn.c_attn.bias`), col(R))),
      [`${L}.self_attention.linear_proj.weight`]: transpose(at(`h.${i}.attn.c_proj.weight`)),
      [`${L}.self_attention.linear_proj.bias`]: at(`h.${i}.attn.c_proj.bias`),
      [`${L}.pre_mlp_layernorm.weight`]: at(`h.${i}.ln_2.weight`), [`${L}.pre_mlp_layernorm.bias`]: at(`h.${i}.ln_2.bias`),
      [`${L}.mlp.linear_fc1.weight`]: transpose(at(`h.${i}.mlp.c_fc.weight`)), [`${L}.mlp.linear_fc1.bias`]: at(`h.${i}.mlp.c_fc.bias`),
      [`${L}.mlp.linear_fc2.weight`]: transpose(at(`h.${i}.mlp.c_proj.weight`)), [`${L}.mlp.linear_fc2.bias`]: at(`h.${i}.mlp.c_proj.bias`),
    });
  }
  out['decoder.final_layernorm.weight'] = at('ln_f.weight');
  out['decoder.final_layernorm.bias'] = at('ln_f.bias');
  return out;
}

// ---- tiny Llama (GQA: 8 heads in 4 groups; head_dim 2 with hidden 8; biases optional) -------------

export const LLAMA: GptDims = { numLayers: 2, hiddenSize: 8, numAttentionHeads: 8, numQueryGroups: 4, kvChannels: 2, ffnHiddenSize: 12, vocabSize: 30, paddedVocabSize: 0, maxPositionEmbeddings: 64 };

export function llamaCheckpoint(bias: boolean): Record<string, Mat> {
  const { hiddenSize: h, ffnHiddenSize: f, vocabSize: V, numAttentionHeads: nq, numQueryGroups: g, kvChannels: d } = LLAMA;
  const t: Record<string, Mat> = { 'model.embed_tokens.weight': mat([V, h], 1), 'model.norm.weight': mat([h], 2), 'lm_head.weight': mat([V, h], 3) };
  for (let i = 0; i < LLAMA.numLayers; i++) {
    const p = `model.layers.${i}`;
    const s = 100 * (i + 1);
    Object.assign(t, {
      [`${p}.input_layernorm.weight`]: mat([h], s + 1), [`${p}.post_attention_layernorm.weight`]: mat([h], s + 2),
      [`${p}.self_attn.q_proj.weight`]: mat([nq * d, h], s + 3), [`${p}.self_attn.k_proj.weight`]: mat([g * d, h], s + 4),
      [`${p}.self_attn.v_proj.weight`]: mat([g * d, h], s + 5), [`${p}.self_attn.o_proj.weight`]: mat([h, nq * d], s + 6),
      [`${p}.mlp.gate_proj.weight`]: mat([f, h], s + 7), [`${p}.mlp.up_proj.weight`]: mat([f, h], s + 8), [`${p}.mlp.down_proj.weight`]: mat([h, f], s + 9),
    });
    if (bias) {
      Object.assign(t, {
        [`${p}.self_attn.q_proj.bias`]: mat([nq * d], s + 10), [`${p}.self_attn.k_proj.bias`]: mat([g * d], s + 11),
        [`${p}.self_attn.v_proj.bias`]: mat([g * d], s + 12), [`${p}.self_attn.o_proj.bias`]: mat([h], s + 13),
        [`${p}.mlp.gate_proj.bias`]: mat([f], s + 14), [`${p}.mlp.up_proj.bias`]: mat([f], s + 15), [`${p}.mlp.down_proj.bias`]: mat([h], s + 16),
      });
    }
  }
  return t;
}

export function llamaTessera(hf: Record<string, Mat>, dims: GptDims, bias: boolean): Record<string, Mat> {
  const at = (n: string) => hf[n] as Mat;
  const out: Record<string, Mat> = {
    'embedding.word_embeddings.weight': padRows(at('model.embed_tokens.weight'), dims.paddedVocabSize),
    'decoder.final_layernorm.weight': at('model.norm.weight'),
    'output_layer.weight': padRows(at('lm_head.weight'), dims.paddedVocabSize),
  };
  const qkvTotal = (dims.numAttentionHeads + 2 * dims.numQueryGroups) * dims.kvChannels;
  for (let i = 0; i < dims.numLayers; i++) {
    const p = `model.layers.${i}`;
    const L = `decoder.layers.${i}`;
    const parts = (suffix: string) => [at(`${p}.self_attn.q_proj.${suffix}`), at(`${p}.self_attn.k_proj.${suffix}`), at(`${p}.self_attn.v_proj.${suffix}`)];
    const w = parts('weight');
    Object.assign(out, {
      [`${L}.input_layernorm.weight`]: at(`${p}.input_layernorm.weight`),
      [`${L}.pre_mlp_layernorm.weight`]: at(`${p}.post_attention_layernorm.weight`),
      [`${L}.self_attention.linear_qkv.weight`]: build([qkvTotal, dims.hiddenSize], (R, c) => {
        const { part, row } = qkvSource(R, dims);
        return get(w[part] as Mat, row, c);
      }),
      [`${L}.self_attention.linear_proj.weight`]: at(`${p}.self_attn.o_proj.weight`),
      [`${L}.mlp.linear_fc1.weight`]: catRows(at(`${p}.mlp.gate_proj.weight`), at(`${p}.mlp.up_proj.weight`)),
      [`${L}.mlp.linear_fc2.weight`]: at(`${p}.mlp.down_proj.weight`),
    });
    if (bias) {
      const b = parts('bias');
      Object.assign(out, {
        [`${L}.self_attention.linear_qkv.bias`]: build([qkvTotal], (R) => {
          const { part, row } = qkvSource(R, dims);
          return get(b[part] as Mat, row);
        }),
        [`${L}.self_attention.linear_proj.bias`]: at(`${p}.self_attn.o_proj.bias`),
        [`${L}.mlp.linear_fc1.bias`]: catRows(at(`${p}.mlp.gate_proj.bias`), at(`${p}.mlp.up_proj.bias`)),
        [`${L}.mlp.linear_fc2.bias`]: at(`${p}.mlp.down_proj.bias`),
      });
    }
  }
  return out;
}
