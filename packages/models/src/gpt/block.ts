// The decoder (Megatron-Core's TransformerBlock): the layers, with full recomputation when asked,
// then the final norm. With sequence parallelism everything runs inside the TP RNG fork, since
// each rank holds different positions. A pipeline stage holds a contiguous range of the layers:
// they keep their global numbers (in parameter names and init seeds), and only the last stage has
// the final norm.
import { checkpoint, Module, type Tensor } from '@tessera/core';
import type { AttentionInputs } from './attention.ts';
import type { BuildContext } from './build-context.ts';
import { TransformerLayer } from './layer.ts';
import { buildNorm, type Norm } from './norm.ts';
import type { ResolvedRecompute } from './recompute.ts';

/** Which layers a block holds: global layers [start, end), and whether it ends the model. */
export interface BlockRange {
  start: number;
  end: number;
  /** Build the final norm (the model's last pipeline stage). */
  postProcess: boolean;
}

export class TransformerBlock extends Module {
  readonly ctx: BuildContext;
  readonly recompute: ResolvedRecompute;
  /** Global number of layers[0]. */
  readonly layerOffset: number;
  layers: TransformerLayer[];
  final_layernorm: Norm | undefined;

  constructor(ctx: BuildContext, recompute: ResolvedRecompute, range: BlockRange = { start: 0, end: ctx.config.numLayers, postProcess: true }) {
    super();
    this.ctx = ctx;
    this.recompute = recompute;
    this.layerOffset = range.start;
    this.layers = Array.from({ length: range.end - range.start }, (_, i) => new TransformerLayer(ctx.child(`layers.${range.start + i}`)));
    for (const l of this.layers) l.self_attention.recomputeCoreAttention = recompute.kind === 'selective';
    this.final_layernorm = range.postProcess ? buildNorm(ctx.child('final_layernorm')) : undefined;
  }

  /** Layers are named by their global number (decoder.layers.N), so every stage's names match the whole model's. */
  override *namedChildren(): Generator<[string, Module]> {
    for (const [name, child] of super.namedChildren()) {
      const layer = /^layers\.(\d+)$/.exec(name);
      yield layer ? [`layers.${this.layerOffset + Number(layer[1])}`, child] : [name, child];
    }
  }

  /** Layers [from, to) as one function of (hidden, ...shared tensors), for checkpoint(). */
  #chunk(from: number, to: number, inputs: AttentionInputs): (x: Tensor, ...shared: Tensor[]) => Tensor {
    return (x, ...shared) => {
      const own = unpack(inputs, shared);
      let h = x;
      for (let i = from; i < to; i++) {
        const next = (this.layers[i] as TransformerLayer).forward(h, own);
        if (h !== x) h.dispose();
        h = next;
      }
      return h;
    };
  }

  #layers(x: Tensor, inputs: AttentionInputs): Tensor {
    const r = this.recompute;
    const n = this.layers.length;
    const shared = pack(inputs);
    let h = x;
    const step = (from: number, to: number, recompute: boolean) => {
      const fn = this.#chunk(from, to, inputs);
      const next = recompute ? checkpoint(fn, h, ...shared) : fn(h, ...shared);
      if (h !== x) h.dispose();
      h = next;
    };
    if (r.kind !== 'full' || !this.training) step(0, n, false);
    else if (r.method === 'uniform') for (let l = 0; l < n; l += r.numLayers) step(l, Math.min(l + r.numLayers, n), true);
    else for (let l = 0; l < n; l++) step(l, l + 1, l < r.numLayers);
    return h;
  }

  /** x [s(/tp), b, h] -> hidden states of the same shape (normalized when the block has the final norm). */
  forward(x: Tensor, inputs: AttentionInputs): Tensor {
    const tp = this.ctx.tp;
    const h = tp.sequenceParallel ? tp.rng.fork(() => this.#layers(x, inputs)) : this.#layers(x, inputs);
    if (!this.final_layernorm) return h;
    const out = this.final_layernorm.forward(h);
    if (h !== x) h.dispose();
    return out;
  }
}

/** The shared per-forward tensors as a list (checkpoint() keeps its tensor arguments for recomputation). */
function pack(inputs: AttentionInputs): Tensor[] {
  return [inputs.mask, inputs.rotary?.cos, inputs.rotary?.sin, inputs.alibi].filter((t): t is Tensor => t !== undefined);
}

/** The inverse of pack(), with the tensors checkpoint() hands back. */
function unpack(like: AttentionInputs, tensors: Tensor[]): AttentionInputs {
  const list = [...tensors];
  const mask = like.mask ? list.shift() : undefined;
  const rotary = like.rotary ? { cos: list.shift() as Tensor, sin: list.shift() as Tensor } : undefined;
  const alibi = like.alibi ? list.shift() : undefined;
  return { mask, causalOnly: like.causalOnly, rotary, alibi };
}
