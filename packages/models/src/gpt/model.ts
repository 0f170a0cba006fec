// GPTModel (Megatron-Core's GPTModel): embedding -> decoder -> output layer, written once from the
// tensor-parallel layers (TP = 1 is the single-device case). Inside it activations are
// sequence-first [s, b, h]; forward takes token ids [b, s] and returns logits [b, s, vocab/tp]
// (this rank's vocabulary slice), or with labels the per-token loss [b, s] computed from the
// vocab-parallel logits without gathering them.
//
// A pipeline stage (Megatron's pre_process / post_process) builds only its part: the embedding on
// the first stage, a range of layers under their global names, the final norm and output layer on
// the last. Later stages take the previous stage's hidden states [s, b, h] through
// setInputTensor(); earlier stages return their hidden states. With tied embeddings the last stage
// of a split model holds its own copy of the word embeddings as output_layer.weight, drawn from the
// word embeddings' seed (so it starts equal) and kept equal by summing the two gradients every step
// (@tessera/pipeline's allReduceEmbeddingGrads).
import { type Device, type DeviceLike, type DType, getDefaultDevice, Module, parseDevice, scope, type Tensor } from '@tessera/core';
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
  /** Pipeline stage: embed the token ids (default true). false: forward reads the hidden states given to setInputTensor(). */
  preProcess?: boolean;
  /** Pipeline stage: end with the final norm and the logits or loss (default true). false: forward returns hidden states [s(/tp), b, h]. */
  postProcess?: boolean;
  /** Pipeline stage: the global layers [start, end) to build (default all); parameters keep their global layer numbers. */
  layerRange?: readonly [number, number];
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
  readonly preProcess: boolean;
  readonly postProcess: boolean;
  /** The global layers [start, end) this model (stage) holds. */
  readonly layerRange: readonly [number, number];
  /** Only on the first pipeline stage. */
  embedding: GptEmbedding | undefined;
  decoder: TransformerBlock;
  /**
   * The logits layer [vocab_padded / tp, h], only on the last pipeline stage. With tied embeddings
   * it has no weight of its own, except on a last stage without the embedding (its copy).
   */
  output_layer: ColumnParallelLinear | undefined;
  rotary: RotaryEmbedding | undefined;
  #inputTensor: Tensor | undefined;

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
    this.preProcess = options.preProcess ?? true;
    this.postProcess = options.postProcess ?? true;
    const [start, end] = options.layerRange ?? [0, c.numLayers];
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > c.numLayers || start >= end) {
      throw new Error(`GPTModel: layerRange must be integers [start, end) with 0 <= start < end <= numLayers (${c.numLayers}), got [${start}, ${end})`);
    }
    this.layerRange = [start, end];
    this.embedding = this.preProcess ? new GptEmbedding(ctx.child('embedding')) : undefined;
    this.decoder = new TransformerBlock(ctx.child('decoder'), recompute, { start, end, postProcess: this.postProcess });
    const tied = !c.untieEmbeddingsAndOutputWeights;
    if (this.postProcess) {
      // A split model's last stage keeps its own copy of tied word embeddings: same seed, same values.
      const copy = tied && !this.preProcess;
      const seedFrom = copy ? ctx.child('embedding').child('word_embeddings') : ctx.child('output_layer');
      this.output_layer = new ColumnParallelLinear(c.hiddenSize, c.paddedVocabSize, {
        tp, bias: false, initMethod: initNormal(c.initMethodStd), generator: seedFrom.generator('weight'), ...ctx.factory, skipWeightParamAllocation: tied && !copy,
      });
      // shared: the optimizer's gradient norm counts the first stage's original only.
      const w = this.output_layer.weight;
      if (copy && w) w.meta = { ...w.meta, sharedEmbedding: true, shared: true };
    }
    if (tied && this.embedding) {
      const w = this.embedding.word_embeddings.weight;
      w.meta = { ...w.meta, sharedEmbedding: true };
    }
    this.rotary = c.positionEmbeddingType === 'rope' ? new RotaryEmbedding(c.maxPositionEmbeddings, c.rotaryDim, c.rotaryBase, options.device) : undefined;
  }

  /** The weight the logits are computed with: the output layer's, or the word embeddings' when tied. */
  get outputWeight(): Tensor {
    const w = this.output_layer?.weight ?? this.embedding?.word_embeddings.weight;
    if (!this.postProcess || !w) throw new Error('GPTModel: this pipeline stage has no output layer (postProcess is false)');
    return w;
  }

  /**
   * The hidden states [s(/tp), b, h] a stage without the embedding starts from (Megatron's
   * set_input_tensor): the previous stage's output, as the pipeline schedule received it.
   */
  setInputTensor(input: Tensor | undefined): void {
    this.#inputTensor = input;
  }

  /** The first stage checks token ids; later stages the hidden states they were given. */
  #check(ids: Tensor | undefined, o: GptForwardOptions): number {
    let b: number;
    let s: number;
    const c = this.config;
    if (this.preProcess) {
      if (ids?.rank !== 2 || (ids.dtype !== 'i32' && ids.dtype !== 'i64')) throw new Error(`GPTModel: inputIds must be integer [b, s], got ${ids?.describe() ?? 'none'}`);
      [b, s] = ids.shape as [number, number];
    } else {
      const x = this.#inputTensor;
      if (x?.rank !== 3 || x.shape[2] !== c.hiddenSize) {
        throw new Error(`GPTModel: this pipeline stage has no embedding (preProcess is false): call setInputTensor() with the previous stage's hidden states [s, b, ${c.hiddenSize}] first, got ${x?.describe() ?? 'none'}`);
      }
      s = (x.shape[0] as number) * (this.tp.sequenceParallel ? this.tp.size : 1);
      b = x.shape[1] as number;
    }
    if (c.positionEmbeddingType !== 'alibi' && s > c.maxPositionEmbeddings && !o.positionIds) {
      throw new Error(`GPTModel: the sequence has ${s} tokens, more than maxPositionEmbeddings (${c.maxPositionEmbeddings})`);
    }
    if (this.tp.sequenceParallel && s % this.tp.size !== 0) {
      throw new Error(`GPTModel: with sequence parallelism the sequence length (${s}) must be divisible by the tensor-parallel size (${this.tp.size})`);
    }
    for (const [name, t] of [['positionIds', o.positionIds], ['labels', o.labels]] as const) {
      if (t && (t.shape[0] !== b || t.shape[1] !== s || t.rank !== 2)) throw new Error(`GPTModel: ${name} must be [${b}, ${s}] like inputIds, got ${t.describe()}`);
    }
    return s;
  }

  /** The tensors every layer shares in one forward: the mask, RoPE angles, ALiBi bias. */
  #inputs(s: number, device: Device, positionIds: Tensor | undefined, attentionMask: Tensor | undefined): AttentionInputs {
    const c = this.config;
    const heads = c.numAttentionHeads / this.tp.size;
    return {
      mask: combineMasks(s, device, attentionMask),
      causalOnly: attentionMask === undefined,
      rotary: this.rotary?.angles(s, positionIds),
      alibi: c.positionEmbeddingType === 'alibi' ? alibiBias(c.numAttentionHeads, this.tp.rank * heads, heads, s, s, device) : undefined,
    };
  }

  /**
   * inputIds [b, s] -> logits [b, s, vocab_padded / tp] (all of the vocabulary without
   * parallelOutput), or with labels the loss [b, s]. A stage without the embedding ignores
   * inputIds (pass undefined) and starts from setInputTensor()'s hidden states; a stage without the
   * output layer returns its hidden states [s(/tp), b, h].
   */
  forward(inputIds: Tensor | undefined, o: GptForwardOptions = {}): Tensor {
    const s = this.#check(inputIds, o);
    const tp = this.tp;
    return scope(() => {
      const hidden = this.embedding && inputIds ? this.embedding.forward(inputIds, o.positionIds) : (this.#inputTensor as Tensor);
      const final = this.decoder.forward(hidden, this.#inputs(s, hidden.device, o.positionIds, o.attentionMask));
      if (!this.output_layer) return final;
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
