// Transformers GPT2Config -> Tessera GptConfig: learned absolute positions, LayerNorm, biases
// everywhere, tied embeddings by default, GELU in its tanh approximation (GPT-2's gelu_new, the
// only GELU the family has: Megatron's bias_gelu).
import type { GptConfig } from '../gpt/config.ts';
import { type ConfigReader, dropout, HfConfigError } from './config-read.ts';

// gelu_fast is the same function as gelu_new, written differently.
const TANH_GELU = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast'];

export function gpt2Config(r: ConfigReader): GptConfig {
  const hiddenSize = r.int('n_embd', 768);
  const heads = r.int('n_head', 12);
  if (hiddenSize % heads !== 0) throw new HfConfigError('n_head', heads, `the number of heads must divide n_embd (${hiddenSize})`);
  const inner = r.raw('n_inner');
  if (inner !== undefined && inner !== null && !(typeof inner === 'number' && Number.isInteger(inner) && inner > 0)) {
    throw new HfConfigError('n_inner', inner, 'expected null (4 x n_embd) or a positive integer');
  }
  const act = r.raw('activation_function') ?? 'gelu_new';
  if (!TANH_GELU.includes(act as string)) {
    const why = act === 'gelu' ? "the exact (erf) GELU differs from it by up to 1e-3, enough to change the model's outputs" : 'the MLP has no such activation';
    throw new HfConfigError('activation_function', act, `Tessera's GELU MLP uses the tanh approximation (${TANH_GELU.join(', ')}); ${why}`);
  }
  r.require('scale_attn_weights', [true], 'Tessera always scales attention scores by 1/sqrt(head_dim)');
  r.require('scale_attn_by_inverse_layer_idx', [false], 'Tessera has no extra 1/(layer index + 1) attention scaling');
  r.require('add_cross_attention', [false], 'the GPT family is decoder-only and has no cross-attention');
  // Numerics only (Tessera's softmax already runs in fp32); n_ctx is the legacy name of
  // n_positions; summary_* configure GPT2DoubleHeadsModel's classifier, which is not loaded.
  r.accept('reorder_and_upcast_attn', 'n_ctx', 'summary_type', 'summary_use_proj', 'summary_activation', 'summary_proj_to_labels', 'summary_first_dropout');
  const resid = dropout(r, 'resid_pdrop', 0.1);
  const embd = dropout(r, 'embd_pdrop', 0.1);
  if (embd !== resid) {
    throw new HfConfigError('embd_pdrop', embd, `Tessera uses one hidden dropout for the embeddings and the residual branches (Megatron's hidden_dropout), and resid_pdrop is ${resid}; set both to the same value`);
  }
  return {
    numLayers: r.int('n_layer', 12),
    hiddenSize,
    numAttentionHeads: heads,
    numQueryGroups: heads,
    kvChannels: hiddenSize / heads,
    ffnHiddenSize: typeof inner === 'number' ? inner : 4 * hiddenSize,
    vocabSize: r.int('vocab_size', 50257),
    maxPositionEmbeddings: r.int('n_positions', 1024),
    positionEmbeddingType: 'learned_absolute',
    normalization: 'LayerNorm',
    layernormEpsilon: r.num('layer_norm_epsilon', 1e-5),
    swiglu: false,
    addBiasLinear: true,
    addQkvBias: false,
    untieEmbeddingsAndOutputWeights: !r.bool('tie_word_embeddings', true),
    hiddenDropout: resid,
    attentionDropout: dropout(r, 'attn_pdrop', 0.1),
    initMethodStd: r.num('initializer_range', 0.02),
  };
}
