// Named GPT configs: the four GPT-2 sizes (OpenAI's, with the GPT-2 vocabulary that the model pads
// to 50304 at TP = 1) and tiny debug configs for tests and CPU runs.
import type { GptConfig } from './config.ts';

const GPT2_BASE = {
  vocabSize: 50257,
  maxPositionEmbeddings: 1024,
  positionEmbeddingType: 'learned_absolute',
  normalization: 'LayerNorm',
  layernormEpsilon: 1e-5,
} as const satisfies Partial<GptConfig>;

export const GPT_CONFIGS = {
  /** GPT-2 small, 124M parameters (124.4M with the vocabulary padded to 50304). */
  gpt2: { ...GPT2_BASE, numLayers: 12, hiddenSize: 768, numAttentionHeads: 12 },
  /** 355M. */
  'gpt2-medium': { ...GPT2_BASE, numLayers: 24, hiddenSize: 1024, numAttentionHeads: 16 },
  /** 774M. */
  'gpt2-large': { ...GPT2_BASE, numLayers: 36, hiddenSize: 1280, numAttentionHeads: 20 },
  /** 1.5B (25 heads: TP must be 1 or 5). */
  'gpt2-xl': { ...GPT2_BASE, numLayers: 48, hiddenSize: 1600, numAttentionHeads: 25 },
  /** GPT-2 style debug model with the GPT-2 vocabulary (about 3.3M parameters, most in the embedding). */
  'gpt2-tiny': { ...GPT2_BASE, numLayers: 2, hiddenSize: 64, numAttentionHeads: 4, maxPositionEmbeddings: 256 },
  /** Llama-style debug model: RoPE, grouped-query attention, SwiGLU, RMSNorm, no biases, untied output. */
  'llama-tiny': {
    numLayers: 2, hiddenSize: 64, numAttentionHeads: 4, numQueryGroups: 2, ffnHiddenSize: 128, vocabSize: 256, maxPositionEmbeddings: 256,
    positionEmbeddingType: 'rope', rotaryBase: 10000, normalization: 'RMSNorm', layernormEpsilon: 1e-6, swiglu: true,
    addBiasLinear: false, untieEmbeddingsAndOutputWeights: true, hiddenDropout: 0, attentionDropout: 0,
  },
} as const satisfies Record<string, GptConfig>;

export type GptConfigName = keyof typeof GPT_CONFIGS;

/** A named config with overrides, e.g. gptConfig('gpt2-tiny', { hiddenDropout: 0 }). */
export function gptConfig(name: GptConfigName, overrides: Partial<GptConfig> = {}): GptConfig {
  const base = GPT_CONFIGS[name] as GptConfig | undefined;
  if (!base) throw new Error(`unknown GPT config '${name}'; known: ${Object.keys(GPT_CONFIGS).join(', ')}`);
  return { ...base, ...overrides };
}
