// GPT-2 (transformers' GPT2LMHeadModel / GPT2Model) <-> Tessera GPT. GPT-2's Conv1D layers store
// weights as [in, out], hence `transposed`; c_attn packs [q; k; v] along its output dimension, which
// the qkv split regroups per head (GPT-2 is multi-head: one query group per head).
import type { NameMap } from './types.ts';

const L = 'decoder.layers.{i}';

export const GPT2_NAMES: NameMap = {
  family: 'gpt2',
  prefixes: ['transformer.', ''],
  probe: 'wte.weight',
  entries: [
    { tessera: 'embedding.word_embeddings.weight', hf: 'wte.weight', split: 'vocab' },
    { tessera: 'embedding.position_embeddings.weight', hf: 'wpe.weight', split: 'replicated' },
    { tessera: `${L}.input_layernorm.weight`, hf: 'h.{i}.ln_1.weight', split: 'replicated' },
    { tessera: `${L}.input_layernorm.bias`, hf: 'h.{i}.ln_1.bias', split: 'replicated' },
    { tessera: `${L}.self_attention.linear_qkv.weight`, hf: 'h.{i}.attn.c_attn.weight', split: 'qkv', transposed: true },
    { tessera: `${L}.self_attention.linear_qkv.bias`, hf: 'h.{i}.attn.c_attn.bias', split: 'qkv' },
    { tessera: `${L}.self_attention.linear_proj.weight`, hf: 'h.{i}.attn.c_proj.weight', split: 'row', transposed: true },
    { tessera: `${L}.self_attention.linear_proj.bias`, hf: 'h.{i}.attn.c_proj.bias', split: 'replicated' },
    { tessera: `${L}.pre_mlp_layernorm.weight`, hf: 'h.{i}.ln_2.weight', split: 'replicated' },
    { tessera: `${L}.pre_mlp_layernorm.bias`, hf: 'h.{i}.ln_2.bias', split: 'replicated' },
    { tessera: `${L}.mlp.linear_fc1.weight`, hf: 'h.{i}.mlp.c_fc.weight', split: 'column', transposed: true },
    { tessera: `${L}.mlp.linear_fc1.bias`, hf: 'h.{i}.mlp.c_fc.bias', split: 'column' },
    { tessera: `${L}.mlp.linear_fc2.weight`, hf: 'h.{i}.mlp.c_proj.weight', split: 'row', transposed: true },
    { tessera: `${L}.mlp.linear_fc2.bias`, hf: 'h.{i}.mlp.c_proj.bias', split: 'replicated' },
    { tessera: 'decoder.final_layernorm.weight', hf: 'ln_f.weight', split: 'replicated' },
    { tessera: 'decoder.final_layernorm.bias', hf: 'ln_f.bias', split: 'replicated' },
    { tessera: 'output_layer.weight', hf: 'lm_head.weight', split: 'vocab', root: true },
  ],
  tiedOutput: { tessera: 'output_layer.weight', hf: 'wte.weight', split: 'vocab' },
  tiedOutputAlias: 'lm_head.weight',
  // The causal-mask buffers older transformers versions saved with every layer.
  ignore: ['h.{i}.attn.bias', 'h.{i}.attn.masked_bias'],
};
