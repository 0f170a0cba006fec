// Transformers LlamaConfig / MistralConfig -> Tessera GptConfig: RoPE (both rotate the two halves
// of each head, rotate_half), RMSNorm, SwiGLU, grouped-query attention, optional biases, untied
// embeddings by default.
import type { GptConfig } from '../gpt/config.ts';
import { type ConfigReader, dropout, HfConfigError } from './config-read.ts';
import type { HfConfigOptions } from './config-types.ts';

const ROPE_KEYS = new Set(['rope_type', 'type', 'rope_theta', 'partial_rotary_factor']);

/**
 * RoPE base and rotary fraction. Transformers 5 writes rope_parameters ({ rope_type, rope_theta });
 * older versions write rope_theta and rope_scaling. Only unscaled ('default') RoPE is accepted.
 */
function rope(r: ConfigReader): { base: number; percent: number } {
  const found: Record<string, unknown> = {};
  for (const key of ['rope_parameters', 'rope_scaling']) {
    const v = r.raw(key);
    if (v === undefined || v === null) continue;
    if (typeof v !== 'object' || Array.isArray(v)) throw new HfConfigError(key, v, 'expected an object or null');
    const spec = v as Record<string, unknown>;
    const type = spec.rope_type ?? spec.type;
    if (type !== 'default') {
      throw new HfConfigError(key, v, `Tessera implements unscaled RoPE only; '${String(type ?? 'unnamed')}' scaling changes the rotary frequencies, so the model would not compute what it was trained to`);
    }
    const extra = Object.keys(spec).filter((k) => !ROPE_KEYS.has(k));
    if (extra.length) throw new HfConfigError(key, v, `unsupported RoPE setting(s) ${extra.join(', ')}`);
    Object.assign(found, spec);
  }
  const base = typeof found.rope_theta === 'number' ? found.rope_theta : r.num('rope_theta', 10000);
  const partial = found.partial_rotary_factor ?? r.raw('partial_rotary_factor') ?? 1;
  if (typeof partial !== 'number' || !(partial > 0 && partial <= 1)) throw new HfConfigError('partial_rotary_factor', partial, 'expected a fraction in (0, 1]');
  return { base, percent: partial };
}

export function llamaConfig(r: ConfigReader, model: 'llama' | 'mistral', opts: HfConfigOptions): GptConfig {
  const hiddenSize = r.int('hidden_size');
  const heads = r.int('num_attention_heads');
  const kvHeads = r.int('num_key_value_heads', heads);
  if (heads % kvHeads !== 0) throw new HfConfigError('num_key_value_heads', kvHeads, `the key/value heads must divide num_attention_heads (${heads})`);
  const headDimRaw = r.raw('head_dim');
  if ((headDimRaw === undefined || headDimRaw === null) && hiddenSize % heads !== 0) {
    throw new HfConfigError('num_attention_heads', heads, `must divide hidden_size (${hiddenSize}) when head_dim is not given`);
  }
  const kvChannels = headDimRaw === undefined || headDimRaw === null ? hiddenSize / heads : r.int('head_dim');
  const act = r.raw('hidden_act') ?? 'silu';
  if (act !== 'silu') throw new HfConfigError('hidden_act', act, "Tessera's gated MLP is SwiGLU, whose gate is SiLU ('silu')");
  const attentionBias = r.bool('attention_bias', false);
  const mlpBias = r.bool('mlp_bias', false);
  if (attentionBias !== mlpBias) {
    throw new HfConfigError('attention_bias', attentionBias, `Tessera puts biases on all linear layers or none (Megatron's add_bias_linear), and mlp_bias is ${mlpBias}`);
  }
  const maxPositionEmbeddings = r.int('max_position_embeddings', model === 'mistral' ? 131072 : 2048);
  const window = r.raw('sliding_window');
  if (window !== undefined && window !== null) {
    const seq = opts.seqLength ?? maxPositionEmbeddings;
    if (typeof window !== 'number' || !Number.isInteger(window) || window < 1) throw new HfConfigError('sliding_window', window, 'expected null or a positive integer');
    if (window < seq) {
      throw new HfConfigError('sliding_window', window, `Tessera's attention is fully causal, but Mistral's attends only to the last ${window} tokens, which differs for sequences longer than that; this run uses ${seq} tokens (pass seqLength <= ${window}, or set sliding_window to null for full attention)`);
    }
  }
  // pretraining_tp only splits HF's matmuls into slices; the result is the same function.
  r.accept('pretraining_tp');
  const { base, percent } = rope(r);
  return {
    numLayers: r.int('num_hidden_layers'),
    hiddenSize,
    numAttentionHeads: heads,
    numQueryGroups: kvHeads,
    kvChannels,
    ffnHiddenSize: r.int('intermediate_size'),
    vocabSize: r.int('vocab_size'),
    maxPositionEmbeddings,
    positionEmbeddingType: 'rope',
    rotaryBase: base,
    rotaryPercent: percent,
    normalization: 'RMSNorm',
    layernormEpsilon: r.num('rms_norm_eps', 1e-6),
    swiglu: true,
    addBiasLinear: attentionBias,
    addQkvBias: false,
    untieEmbeddingsAndOutputWeights: !r.bool('tie_word_embeddings', false),
    hiddenDropout: 0,
    attentionDropout: dropout(r, 'attention_dropout', 0),
    initMethodStd: r.num('initializer_range', 0.02),
  };
}
