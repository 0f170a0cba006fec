// Llama and Mistral (transformers' LlamaForCausalLM / MistralForCausalLM) <-> Tessera GPT.
// q/k/v are separate [heads * head_dim, hidden] weights that the qkv split regroups per query
// group; gate_proj/up_proj become SwiGLU's fused linear_fc1.
//
// RoPE: the weights are used exactly as Hugging Face stores them. HF's Llama applies rotary
// embeddings with rotate_half (dimension j pairs with j + head_dim/2), and its conversion script
// already permuted Meta's interleaved q/k rows into that order. Tessera's RoPE must therefore be
// the non-interleaved rotate_half form (Megatron-Core's default, rotary_interleaved=False); no row
// permutation happens here.
import type { NameMap } from './types.ts';

const L = 'decoder.layers.{i}';
const A = 'layers.{i}.self_attn';
const M = 'layers.{i}.mlp';

export const LLAMA_NAMES: NameMap = {
  family: 'llama',
  prefixes: ['model.', ''],
  probe: 'embed_tokens.weight',
  entries: [
    { tessera: 'embedding.word_embeddings.weight', hf: 'embed_tokens.weight', split: 'vocab' },
    { tessera: `${L}.input_layernorm.weight`, hf: 'layers.{i}.input_layernorm.weight', split: 'replicated' },
    { tessera: `${L}.self_attention.linear_qkv.weight`, hf: [`${A}.q_proj.weight`, `${A}.k_proj.weight`, `${A}.v_proj.weight`], split: 'qkv' },
    { tessera: `${L}.self_attention.linear_qkv.bias`, hf: [`${A}.q_proj.bias`, `${A}.k_proj.bias`, `${A}.v_proj.bias`], split: 'qkv' },
    { tessera: `${L}.self_attention.linear_proj.weight`, hf: `${A}.o_proj.weight`, split: 'row' },
    { tessera: `${L}.self_attention.linear_proj.bias`, hf: `${A}.o_proj.bias`, split: 'replicated' },
    { tessera: `${L}.pre_mlp_layernorm.weight`, hf: 'layers.{i}.post_attention_layernorm.weight', split: 'replicated' },
    { tessera: `${L}.mlp.linear_fc1.weight`, hf: [`${M}.gate_proj.weight`, `${M}.up_proj.weight`], split: 'glu' },
    { tessera: `${L}.mlp.linear_fc1.bias`, hf: [`${M}.gate_proj.bias`, `${M}.up_proj.bias`], split: 'glu' },
    { tessera: `${L}.mlp.linear_fc2.weight`, hf: `${M}.down_proj.weight`, split: 'row' },
    { tessera: `${L}.mlp.linear_fc2.bias`, hf: `${M}.down_proj.bias`, split: 'replicated' },
    { tessera: 'decoder.final_layernorm.weight', hf: 'norm.weight', split: 'replicated' },
    { tessera: 'output_layer.weight', hf: 'lm_head.weight', split: 'vocab', root: true },
  ],
  tiedOutput: { tessera: 'output_layer.weight', hf: 'embed_tokens.weight', split: 'vocab' },
  tiedOutputAlias: 'lm_head.weight',
  // The rotary inverse frequencies some older checkpoints saved; Tessera recomputes them.
  ignore: [`${A}.rotary_emb.inv_freq`],
};
