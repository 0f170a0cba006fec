// The functional API (torch.nn.functional's counterpart): stateless versions of the layers.
export { dropout, crossEntropy, layerNorm, logSoftmax, mseLoss, rmsNorm, scaledMaskedSoftmax, scaledMaskedSoftmaxTakes, softmax } from './ops/nn.ts';
export type { ScaledMaskedSoftmaxOptions } from './ops/nn.ts';
export { linear, linearGeluLinear, matmul, bmm } from './ops/matmul.ts';
export { embedding } from './ops/indexing.ts';
export { gelu, relu, sigmoid, silu, tanh } from './ops/pointwise.ts';
export {
  attention, attentionPacked, fusedAttentionUnsupported, fusedPackedAttentionUnsupported, type AttentionOptions, type PackedAttentionOptions,
} from './ops/attention.ts';
