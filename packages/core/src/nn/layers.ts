// The basic layers: Linear, Embedding, LayerNorm, RMSNorm, Dropout, Sequential. Defaults and
// initialisation follow torch.nn.
import type { DeviceLike } from '../device.ts';
import type { DType } from '../dtype.ts';
import { empty } from '../ops/creation.ts';
import { embedding } from '../ops/indexing.ts';
import { linear } from '../ops/matmul.ts';
import { dropout, layerNorm, rmsNorm } from '../ops/nn.ts';
import type { Tensor } from '../tensor.ts';
import * as init from './init.ts';
import { Module } from './module.ts';
import { Parameter } from './parameter.ts';

export interface FactoryOptions {
  dtype?: DType;
  device?: DeviceLike;
}

function parameter(shape: number[], opts: FactoryOptions, fill: (t: Tensor) => void): Parameter {
  const data = empty(shape, { dtype: opts.dtype ?? 'f32', device: opts.device });
  fill(data);
  const p = new Parameter(data);
  data.dispose();
  return p;
}

function checkSize(layer: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${layer}: ${name} must be a positive integer, got ${v}`);
}

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Parameter;
  bias: Parameter | undefined;

  constructor(inFeatures: number, outFeatures: number, opts: FactoryOptions & { bias?: boolean } = {}) {
    super();
    checkSize('Linear', 'inFeatures', inFeatures);
    checkSize('Linear', 'outFeatures', outFeatures);
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = parameter([outFeatures, inFeatures], opts, (t) => init.kaimingUniform_(t, Math.sqrt(5)));
    const bound = 1 / Math.sqrt(inFeatures);
    this.bias = opts.bias === false ? undefined : parameter([outFeatures], opts, (t) => init.uniform_(t, -bound, bound));
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

export class Embedding extends Module {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  weight: Parameter;

  constructor(numEmbeddings: number, embeddingDim: number, opts: FactoryOptions = {}) {
    super();
    checkSize('Embedding', 'numEmbeddings', numEmbeddings);
    checkSize('Embedding', 'embeddingDim', embeddingDim);
    this.numEmbeddings = numEmbeddings;
    this.embeddingDim = embeddingDim;
    this.weight = parameter([numEmbeddings, embeddingDim], opts, (t) => init.normal_(t, 0, 1));
  }

  forward(ids: Tensor): Tensor {
    return embedding(ids, this.weight);
  }
}

export interface NormOptions extends FactoryOptions {
  eps?: number;
  elementwiseAffine?: boolean;
  bias?: boolean;
}

export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  readonly eps: number;
  weight: Parameter | undefined;
  bias: Parameter | undefined;

  constructor(normalizedShape: number | number[], opts: NormOptions = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    for (const d of this.normalizedShape) checkSize('LayerNorm', 'normalizedShape', d);
    this.eps = opts.eps ?? 1e-5;
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? parameter(this.normalizedShape, opts, init.ones_) : undefined;
    this.bias = affine && opts.bias !== false ? parameter(this.normalizedShape, opts, init.zeros_) : undefined;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

export class RMSNorm extends Module {
  readonly dim: number;
  readonly eps: number;
  weight: Parameter | undefined;

  /** eps defaults to 1e-5, Megatron's layernorm_epsilon. */
  constructor(dim: number, opts: Omit<NormOptions, 'bias'> = {}) {
    super();
    checkSize('RMSNorm', 'dim', dim);
    this.dim = dim;
    this.eps = opts.eps ?? 1e-5;
    this.weight = (opts.elementwiseAffine ?? true) ? parameter([dim], opts, init.ones_) : undefined;
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

export class Dropout extends Module {
  readonly p: number;
  constructor(p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new Error(`Dropout: p must be in [0, 1], got ${p}`);
    this.p = p;
  }
  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training);
  }
}

/** Anything with forward(x) -> y. */
export interface Forward {
  forward(x: Tensor): Tensor;
}

/** Applies its modules in order; intermediate activations are freed as soon as they are used. */
export class Sequential extends Module {
  readonly layers: (Module & Forward)[];
  constructor(...layers: (Module & Forward)[]) {
    super();
    this.layers = layers;
  }
  override *namedChildren(): Generator<[string, Module]> {
    for (let i = 0; i < this.layers.length; i++) yield [String(i), this.layers[i] as Module];
  }
  forward(x: Tensor): Tensor {
    let cur = x;
    for (const layer of this.layers) {
      const next = layer.forward(cur);
      if (cur !== x) cur.dispose();
      cur = next;
    }
    return cur;
  }
}
