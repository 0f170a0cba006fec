// The decoder (Megatron-Core's TransformerBlock): the layers, with full recomputation when asked,
// then the final norm. With sequence parallelism everything runs inside the TP RNG fork, since
// each rank holds different positions.
import { checkpoint, Module, type Tensor } from '@tessera/core';
import type { AttentionInputs } from './attention.ts';
import type { BuildContext } from './build-context.ts';
import { TransformerLayer } from './layer.ts';
import { buildNorm, type Norm } from './norm.ts';
import type { ResolvedRecompute } from './recompute.ts';

export class TransformerBlock extends Module {
  readonly ctx: BuildContext;
  readonly recompute: ResolvedRecompute;
  layers: TransformerLayer[];
  final_layernorm: Norm;

  constructor(ctx: BuildContext, recompute: ResolvedRecompute) {
    super();
    this.ctx = ctx;
    this.recompute = recompute;
    this.layers = Array.from({ length: ctx.config.numLayers }, (_, i) => new TransformerLayer(ctx.child(`layers.${i}`)));
    for (const l of this.layers) l.self_attention.recomputeCoreAttention = recompute.kind === 'selective';
    this.final_layernorm = buildNorm(ctx.child('final_layernorm'));
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

  /** x [s(/tp), b, h] -> normalized hidden states of the same shape. */
  forward(x: Tensor, inputs: AttentionInputs): Tensor {
    const tp = this.ctx.tp;
    const h = tp.sequenceParallel ? tp.rng.fork(() => this.#layers(x, inputs)) : this.#layers(x, inputs);
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
  return { mask, rotary, alibi };
}
