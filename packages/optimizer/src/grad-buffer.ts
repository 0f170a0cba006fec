// A contiguous fp32 gradient buffer for parameters of one dtype and device: each parameter's
// `mainGrad` becomes a view into it (core accumulates backward's gradients there, and linear fuses
// its weight-gradient GEMM into it), so a bucket of gradients is one contiguous range that one
// collective reduces. For the distributed optimizer the parameters themselves also move into a
// buffer with the same layout, so the updated shards can be all-gathered in place.
import { type Device, type DType, noGrad, type Parameter, type Tensor, zeros } from '@tessera/core';
import { type BufferLayout, type LayoutOptions, planLayout } from './buffer-layout.ts';
import { rangeOf, viewOf } from './views.ts';

export interface GradBufferOptions extends LayoutOptions {
  /** Also move the parameters into a contiguous buffer of their dtype (distributed optimizer). */
  paramBuffer?: boolean;
}

export class GradBuffer {
  readonly layout: BufferLayout<Parameter>;
  readonly paramDtype: DType;
  readonly device: Device;
  /** fp32 [layout.size]: every parameter's mainGrad is a view of it. */
  readonly grads: Tensor;
  /** The parameters' own storage, laid out like `grads` (only with paramBuffer). */
  readonly params: Tensor | undefined;
  readonly #bucketGrads: Tensor[];
  readonly #bucketParams: Tensor[];

  constructor(params: readonly { param: Parameter; name?: string }[], options: GradBufferOptions) {
    const first = params[0]?.param;
    if (!first) throw new Error('GradBuffer: no parameters');
    this.paramDtype = first.dtype;
    this.device = first.device;
    for (const { param, name } of params) {
      if (param.dtype !== this.paramDtype || param.device !== this.device) {
        throw new Error(`GradBuffer: ${name ?? 'a parameter'} is ${param.describe()}, the buffer holds ${this.paramDtype} on ${this.device}`);
      }
      if (param.mainGrad) throw new Error(`GradBuffer: ${name ?? 'a parameter'} already has a mainGrad (is the model wrapped twice?)`);
    }
    this.layout = planLayout(params, options);
    const size = this.layout.size;
    this.grads = noGrad(() => zeros([size], { dtype: 'f32', device: this.device }));
    this.params = options.paramBuffer ? this.#moveParams() : undefined;
    for (const r of this.layout.params) r.param.mainGrad = viewOf(this.grads, r.start, r.param.shape);
    this.#bucketGrads = this.layout.buckets.map((b) => rangeOf(this.grads, b.start, b.end));
    this.#bucketParams = this.params ? this.layout.buckets.map((b) => rangeOf(this.params as Tensor, b.start, b.end)) : [];
  }

  // Copies every parameter into one buffer and points the parameter at its view of it; the old
  // storage is freed when nothing else holds it.
  #moveParams(): Tensor {
    const buffer = noGrad(() => zeros([this.layout.size], { dtype: this.paramDtype, device: this.device }));
    noGrad(() => {
      for (const r of this.layout.params) {
        const view = viewOf(buffer, r.start, r.param.shape);
        view.copy_(r.param);
        // Module.to() moves parameters the same way: the Parameter object (held by the module,
        // the optimizer and autograd) stays, only its memory changes.
        r.param._replaceData(view);
        view.dispose();
      }
    });
    return buffer;
  }

  /** The gradients of bucket i (a view). */
  bucketGrads(i: number): Tensor {
    return this.#bucketGrads[i] as Tensor;
  }

  /** The parameters of bucket i (a view; only with paramBuffer). */
  bucketParams(i: number): Tensor {
    const t = this.#bucketParams[i];
    if (!t) throw new Error('GradBuffer: this buffer holds no parameters (build it with paramBuffer: true)');
    return t;
  }

  zero(): void {
    noGrad(() => this.grads.zero_());
  }

  /** Detaches the parameters' mainGrad views and frees the buffers (the parameters keep their memory). */
  dispose(): void {
    for (const r of this.layout.params) {
      if (r.param.mainGrad && !r.param.disposed) {
        r.param.mainGrad.dispose();
        r.param.mainGrad = null;
      }
    }
    for (const t of [...this.#bucketGrads, ...this.#bucketParams]) t.dispose();
    this.grads.dispose();
    this.params?.dispose();
  }
}
