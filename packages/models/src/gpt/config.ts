// The GPT architecture: Megatron's argument names in camelCase, with Megatron's defaults. This is
// what the weights are; how to run them (TP, recomputation, dtype, device) is given separately
// (GptModelOptions). resolveGptConfig fills the defaults and checks everything against a TP size.

export type PositionEmbeddingType = 'learned_absolute' | 'rope' | 'alibi';
export type Normalization = 'LayerNorm' | 'RMSNorm';

export interface GptConfig {
  numLayers: number;
  hiddenSize: number;
  numAttentionHeads: number;
  /** Key/value heads: numAttentionHeads (multi-head, the default), 1 (multi-query) or a divisor (grouped-query). */
  numQueryGroups?: number;
  /** Per-head size (default hiddenSize / numAttentionHeads). */
  kvChannels?: number;
  /** MLP width (default 4 h; with swiglu Megatron's int(4 h 2/3 / 64) 64). */
  ffnHiddenSize?: number;
  /** The tokenizer's vocabulary; the model pads it (see makeVocabSizeDivisibleBy). */
  vocabSize: number;
  /** The embedding has a multiple of this x TP rows (default 128). */
  makeVocabSizeDivisibleBy?: number;
  maxPositionEmbeddings: number;
  /** Default 'learned_absolute'. */
  positionEmbeddingType?: PositionEmbeddingType;
  /** RoPE base (default 10000). */
  rotaryBase?: number;
  /** Fraction of each head's channels that RoPE rotates (default 1). */
  rotaryPercent?: number;
  /** Default 'LayerNorm'. */
  normalization?: Normalization;
  /** Default 1e-5. */
  layernormEpsilon?: number;
  /** SwiGLU MLP (silu(x W_gate) * x W_up); otherwise GELU, tanh approximation (Megatron's bias_gelu). Default false. */
  swiglu?: boolean;
  /** Biases in every linear layer (default true). */
  addBiasLinear?: boolean;
  /** A bias on the QKV projection even without addBiasLinear (default false). */
  addQkvBias?: boolean;
  /** A separate output layer instead of the word embeddings (default false: tied). */
  untieEmbeddingsAndOutputWeights?: boolean;
  /** Default 0.1. */
  hiddenDropout?: number;
  /** Default 0.1. */
  attentionDropout?: number;
  /** Std of the normal init (default 0.02); output projections use std / sqrt(2 numLayers). */
  initMethodStd?: number;
  /** Scale, mask and softmax in fp32 when activations are 16-bit (default true, Megatron-Core's). */
  attentionSoftmaxInFp32?: boolean;
}

/** Every field set, plus the sizes derived from them. */
export interface ResolvedGptConfig extends Required<GptConfig> {
  /** Embedding rows: vocabSize rounded up to makeVocabSizeDivisibleBy x TP. */
  paddedVocabSize: number;
  /** Channels RoPE rotates per head (0 without RoPE). */
  rotaryDim: number;
}

const POSITIONS: readonly PositionEmbeddingType[] = ['learned_absolute', 'rope', 'alibi'];
const NORMS: readonly Normalization[] = ['LayerNorm', 'RMSNorm'];

/** Megatron's _vocab_size_with_padding: the next multiple of makeVocabSizeDivisibleBy x TP. */
export function paddedVocabSize(vocabSize: number, makeVocabSizeDivisibleBy: number, tpSize: number): number {
  const multiple = makeVocabSizeDivisibleBy * tpSize;
  return Math.ceil(vocabSize / multiple) * multiple;
}

function positiveInt(problems: string[], name: string, v: unknown): boolean {
  if (Number.isInteger(v) && (v as number) > 0) return true;
  problems.push(`${name} must be a positive integer, got ${v}`);
  return false;
}

/** Fills Megatron's defaults and checks the config for a TP size; throws one error listing every problem. */
export function resolveGptConfig(config: GptConfig, tpSize = 1): ResolvedGptConfig {
  const p: string[] = [];
  const c = config;
  for (const k of ['numLayers', 'hiddenSize', 'numAttentionHeads', 'vocabSize', 'maxPositionEmbeddings'] as const) positiveInt(p, k, c[k]);
  const heads = c.numAttentionHeads;
  const groups = c.numQueryGroups ?? heads;
  const swiglu = c.swiglu ?? false;
  const kvChannels = c.kvChannels ?? c.hiddenSize / heads;
  const ffn = c.ffnHiddenSize ?? (swiglu ? Math.floor((4 * c.hiddenSize * 2) / 3 / 64) * 64 : 4 * c.hiddenSize);
  const divisible = c.makeVocabSizeDivisibleBy ?? 128;
  const positionType = c.positionEmbeddingType ?? 'learned_absolute';
  const normalization = c.normalization ?? 'LayerNorm';
  const rotaryPercent = c.rotaryPercent ?? 1;

  if (c.kvChannels === undefined && Number.isInteger(heads) && c.hiddenSize % heads !== 0) {
    p.push(`hiddenSize (${c.hiddenSize}) must be divisible by numAttentionHeads (${heads}); change one, or set kvChannels explicitly`);
  } else if (c.kvChannels !== undefined) positiveInt(p, 'kvChannels', c.kvChannels);
  if (positiveInt(p, 'numQueryGroups', groups) && Number.isInteger(heads) && heads % groups !== 0) {
    p.push(`numQueryGroups (${groups}) must divide numAttentionHeads (${heads}): each key/value head serves a whole group of query heads`);
  }
  if (positiveInt(p, 'tensor-parallel size', tpSize) && tpSize > 1) {
    if (heads % tpSize !== 0) p.push(`numAttentionHeads (${heads}) must be divisible by the tensor-parallel size (${tpSize}); each rank holds whole heads`);
    if (groups % tpSize !== 0) {
      p.push(`numQueryGroups (${groups}) must be divisible by the tensor-parallel size (${tpSize}), as Megatron-Core requires (key/value heads are split, never replicated); use a multiple of ${tpSize} query groups or a smaller TP size`);
    }
    if (Number.isInteger(ffn) && ffn % tpSize !== 0) p.push(`ffnHiddenSize (${ffn}) must be divisible by the tensor-parallel size (${tpSize})`);
  }
  positiveInt(p, 'ffnHiddenSize', ffn);
  positiveInt(p, 'makeVocabSizeDivisibleBy', divisible);
  if (!POSITIONS.includes(positionType)) p.push(`positionEmbeddingType must be one of ${POSITIONS.join(', ')}, got '${positionType}'`);
  if (!NORMS.includes(normalization)) p.push(`normalization must be one of ${NORMS.join(', ')}, got '${normalization}'`);
  let rotaryDim = 0;
  if (positionType === 'rope') {
    if (!(rotaryPercent > 0 && rotaryPercent <= 1)) p.push(`rotaryPercent must be in (0, 1], got ${rotaryPercent}`);
    rotaryDim = Math.floor(kvChannels * rotaryPercent);
    if (rotaryDim % 2 !== 0 || rotaryDim === 0) p.push(`RoPE rotates kvChannels x rotaryPercent = ${rotaryDim} channels per head, which must be even and positive`);
  }
  for (const k of ['hiddenDropout', 'attentionDropout'] as const) {
    const v = c[k] ?? 0.1;
    if (!(v >= 0 && v < 1)) p.push(`${k} must be in [0, 1), got ${v}`);
  }
  if (p.length) throw new Error(`invalid GPT config${tpSize > 1 ? ` for tensor-parallel size ${tpSize}` : ''}:\n  - ${p.join('\n  - ')}`);
  return {
    numLayers: c.numLayers,
    hiddenSize: c.hiddenSize,
    numAttentionHeads: heads,
    numQueryGroups: groups,
    kvChannels,
    ffnHiddenSize: ffn,
    vocabSize: c.vocabSize,
    makeVocabSizeDivisibleBy: divisible,
    maxPositionEmbeddings: c.maxPositionEmbeddings,
    positionEmbeddingType: positionType,
    rotaryBase: c.rotaryBase ?? 10000,
    rotaryPercent,
    normalization,
    layernormEpsilon: c.layernormEpsilon ?? 1e-5,
    swiglu,
    addBiasLinear: c.addBiasLinear ?? true,
    addQkvBias: c.addQkvBias ?? false,
    untieEmbeddingsAndOutputWeights: c.untieEmbeddingsAndOutputWeights ?? false,
    hiddenDropout: c.hiddenDropout ?? 0.1,
    attentionDropout: c.attentionDropout ?? 0.1,
    initMethodStd: c.initMethodStd ?? 0.02,
    attentionSoftmaxInFp32: c.attentionSoftmaxInFp32 ?? true,
    paddedVocabSize: paddedVocabSize(c.vocabSize, divisible, tpSize),
    rotaryDim,
  };
}

/** Parameters of the full (unsplit) model, counting the padded vocabulary and a tied output once. */
export function gptParameterCount(config: GptConfig): number {
  const c = resolveGptConfig(config);
  const h = c.hiddenSize;
  const d = c.kvChannels;
  const bias = c.addBiasLinear;
  const norm = c.normalization === 'LayerNorm' ? 2 * h : h;
  const qkvOut = (c.numAttentionHeads + 2 * c.numQueryGroups) * d;
  const fc1Out = (c.swiglu ? 2 : 1) * c.ffnHiddenSize;
  const attention = qkvOut * h + (bias || c.addQkvBias ? qkvOut : 0) + h * c.numAttentionHeads * d + (bias ? h : 0);
  const mlp = fc1Out * h + (bias ? fc1Out : 0) + h * c.ffnHiddenSize + (bias ? h : 0);
  const layer = 2 * norm + attention + mlp;
  const embedding = c.paddedVocabSize * h + (c.positionEmbeddingType === 'learned_absolute' ? c.maxPositionEmbeddings * h : 0);
  const output = c.untieEmbeddingsAndOutputWeights ? c.paddedVocabSize * h : 0;
  return embedding + c.numLayers * layer + norm + output;
}
