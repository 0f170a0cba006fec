// Full (unpartitioned) shapes of Tessera's GPT parameters, from docs/design/tensor-parallel-api.md.
import type { GptDims } from './layout.ts';

const LAYER = /^decoder\.layers\.\d+\./;

/** The full shape of a Tessera GPT parameter, or undefined for a name the contract does not list. */
export function fullShape(name: string, dims: GptDims, gated: boolean): number[] | undefined {
  const { hiddenSize: h, numAttentionHeads: nq, numQueryGroups: g, kvChannels: d, ffnHiddenSize: f } = dims;
  const suffix = name.replace(LAYER, 'layer.');
  switch (suffix) {
    case 'embedding.word_embeddings.weight':
    case 'output_layer.weight':
      return [dims.paddedVocabSize, h];
    case 'embedding.position_embeddings.weight':
      return [dims.maxPositionEmbeddings, h];
    case 'layer.input_layernorm.weight':
    case 'layer.input_layernorm.bias':
    case 'layer.pre_mlp_layernorm.weight':
    case 'layer.pre_mlp_layernorm.bias':
    case 'decoder.final_layernorm.weight':
    case 'decoder.final_layernorm.bias':
    case 'layer.self_attention.linear_proj.bias':
    case 'layer.mlp.linear_fc2.bias':
      return [h];
    case 'layer.self_attention.linear_qkv.weight':
      return [(nq + 2 * g) * d, h];
    case 'layer.self_attention.linear_qkv.bias':
      return [(nq + 2 * g) * d];
    case 'layer.self_attention.linear_proj.weight':
      return [h, nq * d];
    case 'layer.mlp.linear_fc1.weight':
      return [(gated ? 2 : 1) * f, h];
    case 'layer.mlp.linear_fc1.bias':
      return [(gated ? 2 : 1) * f];
    case 'layer.mlp.linear_fc2.weight':
      return [h, f];
    default:
      return undefined;
  }
}
