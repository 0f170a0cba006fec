// config.json -> Tessera GPT options for gpt2, llama and mistral, and the refusals, each naming
// the key, its value and the reason.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { paddedVocabSize } from '../gpt/config.ts';
import { hfModelConfig, readHfConfig } from './config.ts';
import { HfConfigError } from './config-read.ts';

// As GPT2Config().to_dict() writes it (plus the bookkeeping keys save_pretrained adds).
const GPT2 = {
  activation_function: 'gelu_new', architectures: ['GPT2LMHeadModel'], attn_pdrop: 0.1, bos_token_id: 50256, embd_pdrop: 0.1,
  eos_token_id: 50256, initializer_range: 0.02, layer_norm_epsilon: 1e-5, model_type: 'gpt2', n_ctx: 1024, n_embd: 768, n_head: 12,
  n_inner: null, n_layer: 12, n_positions: 1024, reorder_and_upcast_attn: false, resid_pdrop: 0.1, scale_attn_by_inverse_layer_idx: false,
  scale_attn_weights: true, summary_activation: null, summary_first_dropout: 0.1, summary_proj_to_labels: true, summary_type: 'cls_index',
  summary_use_proj: true, task_specific_params: { 'text-generation': { do_sample: true, max_length: 50 } }, transformers_version: '5.17.0',
  use_cache: true, vocab_size: 50257,
};

// A Llama 3 style config as Transformers 5 writes it (rope_parameters instead of rope_theta).
const LLAMA = {
  architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 1, dtype: 'bfloat16', eos_token_id: 2,
  head_dim: 64, hidden_act: 'silu', hidden_size: 2048, initializer_range: 0.02, intermediate_size: 8192, max_position_embeddings: 8192,
  mlp_bias: false, model_type: 'llama', num_attention_heads: 32, num_hidden_layers: 16, num_key_value_heads: 8, pretraining_tp: 1,
  rms_norm_eps: 1e-5, rope_parameters: { rope_theta: 500000.0, rope_type: 'default' }, tie_word_embeddings: true,
  transformers_version: '5.17.0', use_cache: true, vocab_size: 128256,
};

const MISTRAL = {
  architectures: ['MistralForCausalLM'], attention_dropout: 0.0, hidden_act: 'silu', hidden_size: 4096, intermediate_size: 14336,
  max_position_embeddings: 32768, model_type: 'mistral', num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8,
  rms_norm_eps: 1e-5, rope_theta: 1000000.0, sliding_window: null, tie_word_embeddings: false, vocab_size: 32768,
};

function refusal(json: object, opts = {}): HfConfigError {
  try {
    hfModelConfig(json as Record<string, unknown>, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(HfConfigError);
    return e as HfConfigError;
  }
  throw new Error('expected the config to be refused');
}

describe('Hugging Face config.json -> Tessera GptConfig', () => {
  it('maps GPT-2: learned positions, LayerNorm, biases, tied embeddings, tanh GELU, 4h MLP', () => {
    const cfg = hfModelConfig(GPT2);
    expect(cfg.family).toBe('gpt2');
    expect(cfg.config).toEqual({
      numLayers: 12, hiddenSize: 768, numAttentionHeads: 12, numQueryGroups: 12, kvChannels: 64, ffnHiddenSize: 3072, vocabSize: 50257,
      maxPositionEmbeddings: 1024, positionEmbeddingType: 'learned_absolute', normalization: 'LayerNorm', layernormEpsilon: 1e-5, swiglu: false,
      addBiasLinear: true, addQkvBias: false, untieEmbeddingsAndOutputWeights: false, hiddenDropout: 0.1, attentionDropout: 0.1, initMethodStd: 0.02,
    });
    expect(cfg.ignoredKeys).toEqual([]);
    expect(hfModelConfig({ ...GPT2, n_inner: 1000, activation_function: 'gelu_pytorch_tanh', tie_word_embeddings: false }).config)
      .toMatchObject({ ffnHiddenSize: 1000, swiglu: false, untieEmbeddingsAndOutputWeights: true });
  });

  it('maps Llama: RoPE base from rope_parameters, GQA, head_dim, RMSNorm, SwiGLU, no biases', () => {
    const cfg = hfModelConfig(LLAMA);
    expect(cfg.family).toBe('llama');
    expect(cfg.config).toMatchObject({
      numLayers: 16, hiddenSize: 2048, numAttentionHeads: 32, numQueryGroups: 8, kvChannels: 64, ffnHiddenSize: 8192, vocabSize: 128256,
      maxPositionEmbeddings: 8192, positionEmbeddingType: 'rope', rotaryBase: 500000, rotaryPercent: 1, normalization: 'RMSNorm',
      layernormEpsilon: 1e-5, swiglu: true, addBiasLinear: false, untieEmbeddingsAndOutputWeights: false, hiddenDropout: 0,
    });
    const old = { ...LLAMA, rope_parameters: undefined, rope_theta: 10000, rope_scaling: null, num_key_value_heads: undefined, head_dim: undefined };
    expect(hfModelConfig(old).config).toMatchObject({ rotaryBase: 10000, numQueryGroups: 32, kvChannels: 64 });
    expect(hfModelConfig({ ...LLAMA, attention_bias: true, mlp_bias: true }).config.addBiasLinear).toBe(true);
  });

  it('maps Mistral, with a sliding window no shorter than the sequence', () => {
    expect(hfModelConfig(MISTRAL).config).toMatchObject({ rotaryBase: 1e6, numQueryGroups: 8, untieEmbeddingsAndOutputWeights: true });
    expect(hfModelConfig({ ...MISTRAL, sliding_window: 4096 }, { seqLength: 4096 }).family).toBe('mistral');
  });

  it.each<[string, object, object, string, unknown, RegExp]>([
    ['an unknown model type', { ...GPT2, model_type: 'bert' }, {}, 'model_type', 'bert', /loads 'gpt2', 'llama' and 'mistral'/],
    ['rope_scaling', { ...LLAMA, rope_parameters: undefined, rope_scaling: { rope_type: 'llama3', factor: 32 } }, {}, 'rope_scaling', { rope_type: 'llama3', factor: 32 }, /unscaled RoPE only; 'llama3' scaling changes the rotary frequencies/],
    ['scaled rope_parameters', { ...LLAMA, rope_parameters: { rope_type: 'yarn', rope_theta: 1e4, factor: 4 } }, {}, 'rope_parameters', { rope_type: 'yarn', rope_theta: 1e4, factor: 4 }, /'yarn' scaling/],
    ['a sliding window shorter than the sequence', { ...MISTRAL, sliding_window: 4096 }, {}, 'sliding_window', 4096, /fully causal.*last 4096 tokens.*this run uses 32768 tokens \(pass seqLength <= 4096/],
    ['a non-SiLU gate', { ...LLAMA, hidden_act: 'gelu' }, {}, 'hidden_act', 'gelu', /SwiGLU/],
    ['attention biases without MLP biases', { ...LLAMA, attention_bias: true }, {}, 'attention_bias', true, /all linear layers or none.*mlp_bias is false/],
    ['kv heads that do not divide the heads', { ...LLAMA, num_key_value_heads: 5 }, {}, 'num_key_value_heads', 5, /must divide num_attention_heads \(32\)/],
    ['a missing size', { ...LLAMA, hidden_size: undefined }, {}, 'hidden_size', undefined, /required/],
    ['a GPT-2 activation Tessera lacks', { ...GPT2, activation_function: 'relu' }, {}, 'activation_function', 'relu', /tanh approximation \(gelu_new, gelu_pytorch_tanh, gelu_fast\); the MLP has no such activation/],
    ['the exact GELU', { ...GPT2, activation_function: 'gelu' }, {}, 'activation_function', 'gelu', /exact \(erf\) GELU differs/],
    ['per-layer attention scaling', { ...GPT2, scale_attn_by_inverse_layer_idx: true }, {}, 'scale_attn_by_inverse_layer_idx', true, /no extra 1\/\(layer index \+ 1\)/],
    ['cross-attention', { ...GPT2, add_cross_attention: true }, {}, 'add_cross_attention', true, /decoder-only/],
    ['different embedding and residual dropouts', { ...GPT2, embd_pdrop: 0 }, {}, 'embd_pdrop', 0, /one hidden dropout.*resid_pdrop is 0.1/],
    ['heads that do not divide the width', { ...GPT2, n_head: 7 }, {}, 'n_head', 7, /must divide n_embd \(768\)/],
  ])('refuses %s', (_what, json, opts, key, value, reason) => {
    const e = refusal(json, opts);
    expect(e.key).toBe(key);
    expect(e.value).toEqual(value);
    expect(e.message).toMatch(new RegExp(`^config.json: ${key} = `));
    expect(e.message).toMatch(reason);
  });

  it('reports keys it did not read instead of guessing at them', () => {
    expect(hfModelConfig({ ...LLAMA, qk_layernorm: true }).ignoredKeys).toEqual(['qk_layernorm']);
  });

  it('reads config.json from a directory; the vocab is padded as Megatron pads it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-cfg-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify(GPT2));
    const cfg = readHfConfig(dir);
    expect(paddedVocabSize(cfg.config.vocabSize, 128, 1)).toBe(50304);
    expect(paddedVocabSize(cfg.config.vocabSize, 128, 2)).toBe(50432); // Megatron's worked example
    expect(() => readHfConfig(join(dir, 'missing.json'))).toThrow('missing.json: no such file or directory');
  });
});
