// GPTModel (Megatron-Core's GPTModel): embedding -> decoder -> output layer, written once from the
// tensor-parallel layers (TP = 1 is the single-device case). Inside it activations are
// sequence-first [s, b, h]; forward takes token ids [b, s] and returns logits [b, s, vocab/tp]
// (this rank's vocabulary slice), or with labels the per-token loss [b, s] computed from the
// vocab-parallel logits without gathering them.
import { type DeviceLike, type DType, getDefaultDevice, Module, parseDevice, scope, type Tensor } from '@tessera/core';
import {
  ColumnParallelLinear, gatherFromTensorParallelRegion, initNormal, type TensorParallel, tensorParallel, vocabParallelCrossEntropy,
} from '@tessera/tensor-parallel';
import { alibiBias } from './alibi.ts';
import type { AttentionInputs } from './attention.ts';
import { TransformerBlock } from './block.ts';
import { BuildContext } from './build-context.ts';
import { type GptConfig, type ResolvedGptConfig, resolveGptConfig } from './config.ts';
import { GptEmbedding } from './embedding.ts';
import { combineMasks } from './masks.ts';
import { type RecomputeConfig, resolveRecompute } from './recompute.ts';
import { RotaryEmbedding } from './rotary.ts';

export interface GptModelOptions {
  /** Tensor (and sequence) parallelism; default: one device. */
  tp?: TensorParallel;
  recompute?: RecomputeConfig;
  /** Parameter and activation dtype (default f32). */
  dtype?: DType;
  device?: DeviceLike;
  /** Initialization seed (default 1234, Megatron's --seed); the same seed gives the same full weights at any TP size. */
  seed?: number;
  /** Keep the logits split over the vocabulary (default true); false all-gathers them. */
  parallelOutput?: boolean;
}

export interface GptForwardOptions {
  /** [b, s] (default 0..s-1 for every sequence); used by learned positions and RoPE. */
  positionIds?: Tensor;
  /** Extra masking, bool, true = masked, broadcastable to [b, 1, s, s]; the causal mask always applies. */
  attentionMask?: Tensor;
  /** Next-token targets [b, s]: forward then returns the per-token fp32 loss [b, s]. */
  labels?: Tensor;
  /** Megatron's label smoothing for that loss (uses each rank's vocabulary slice; see vocabParallelCrossEntropy). */
  labelSmoothing?: number;
}

export class GPTModel extends Module {
  readonly config: ResolvedGptConfig;
  readonly tp: TensorParallel;
  readonly parallelOutput: boolean;
  embedding: GptEmbedding;
  decoder: TransformerBlock;
  /** The logits layer [vocab_padded / tp, h]; with tied embeddings it has no weight of its own. */
  output_layer: ColumnParallelLinear;
  rotary: RotaryEmbedding | undefined;

  constructor(config: GptConfig, options: GptModelOptions = {}) {
    super();
    const tp = options.tp ?? tensorParallel(undefined, { device: options.device });
    const device = parseDevice(options.device ?? getDefaultDevice());
    if (tp.rng.device !== device) {
      throw new Error(`GPTModel: the model is on ${device} but its TensorParallel's RNG tracker swaps the generator of ${tp.rng.device}; pass { device: '${device}' } to tensorParallel()`);
    }
    const c = resolveGptConfig(config, tp.size);
    this.config = c;
    this.tp = tp;
    this.parallelOutput = options.parallelOutput ?? true;
    const ctx = new BuildContext(c, tp, { dtype: options.dtype ?? 'f32', device: options.device, seed: options.seed ?? 1234 });
    const recompute = resolveRecompute(options.recompute, c.numLayers);
    this.embedding = new GptEmbedding(ctx.child('embedding'));
    this.decoder = new TransformerBlock(ctx.child('decoder'), recompute);
    const tied = !c.untieEmbeddingsAndOutputWeights;
    const out = ctx.child('output_layer');
    this.output_layer = new ColumnParallelLinear(c.hiddenSize, c.paddedVocabSize, {
      tp, bias: false, initMethod: initNormal(c.initMethodStd), generator: out.generator('weight'), ...ctx.factory, skipWeightParamAllocation: tied,
    });
    if (tied) {
      const w = this.embedding.word_embeddings.weight;
      w.meta = { ...w.meta, sharedEmbedding: true };
    }
    this.rotary = c.positionEmbeddingType === 'rope' ? new RotaryEmbedding(c.maxPositionEmbeddings, c.rotaryDim, c.rotaryBase, options.device) : undefined;
  }

  /** The weight the logits are computed with: the output layer's, or the word embeddings' when tied. */
  get outputWeight(): Tensor {
    return this.output_layer.weight ?? this.embedding.word_embeddings.weight;
  }

  #check(ids: Tensor, o: GptForwardOptions): void {
    if (ids.rank !== 2 || (ids.dtype !== 'i32' && ids.dtype !== 'i64')) throw new Error(`GPTModel: inputIds must be integer [b, s], got ${ids.describe()}`);
    const s = ids.shape[1] as number;
    const c = this.config;
    if (c.positionEmbeddingType !== 'alibi' && s > c.maxPositionEmbeddings && !o.positionIds) {
      throw new Error(`GPTModel: the sequence has ${s} tokens, more than maxPositionEmbeddings (${c.maxPositionEmbeddings})`);
    }
    if (this.tp.sequenceParallel && s % this.tp.size !== 0) {
      throw new Error(`GPTModel: with sequence parallelism the sequence length (${s}) must be divisible by the tensor-parallel size (${this.tp.size})`);
    }
    for (const [name, t] of [['positionIds', o.positionIds], ['labels', o.labels]] as const) {
      if (t && (t.shape[0] !== ids.shape[0] || t.shape[1] !== s || t.rank !== 2)) throw new Error(`GPTModel: ${name} must be [${ids.shape.join(', ')}] like inputIds, got ${t.describe()}`);
    }
  }

  /** The tensors every layer shares in one forward: the mask, RoPE angles, ALiBi bias. */
  #inputs(s: number, ids: Tensor, positionIds: Tensor | undefined, attentionMask: Tensor | undefined): AttentionInputs {
    const c = this.config;
    const heads = c.numAttentionHeads / this.tp.size;
    return {
      mask: combineMasks(s, ids.device, attentionMask),
      rotary: this.rotary?.angles(s, positionIds),
      alibi: c.positionEmbeddingType === 'alibi' ? alibiBias(c.numAttentionHeads, this.tp.rank * heads, heads, s, s, ids.device) : undefined,
    };
  }

  /** inputIds [b, s] -> logits [b, s, vocab_padded / tp] (all of the vocabulary without parallelOutput), or with labels the loss [b, s]. */
  forward(inputIds: Tensor, o: GptForwardOptions = {}): Tensor {
    this.#check(inputIds, o);
    const tp = this.tp;
    return scope(() => {
      const s = inputIds.shape[1] as number;
      const hidden = this.embedding.forward(inputIds, o.positionIds);
      const final = this.decoder.forward(hidden, this.#inputs(s, inputIds, o.positionIds, o.attentionMask));
      const logits = this.output_layer.forward(final, this.outputWeight).output; // [s, b, vocab / tp]
      if (o.labels) {
        const loss = vocabParallelCrossEntropy(logits, o.labels.transpose(0, 1), tp, { labelSmoothing: o.labelSmoothing });
        return loss.transpose(0, 1);
      }
      const full = this.parallelOutput ? logits : gatherFromTensorParallelRegion(logits, tp);
      return full.transpose(0, 1);
    });
  }
}
