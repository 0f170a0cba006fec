// A minimal AdamW for this demo (the full optimizer package, with mixed precision, clipping and
// sharding, is @tessera/optimizer's job).
import { noGrad, type Parameter, scope, type Tensor, zerosLike } from '@tessera/core';

export class TinyAdamW {
  readonly params: Parameter[];
  readonly m: Tensor[];
  readonly v: Tensor[];
  readonly opts: { lr: number; betas: [number, number]; eps: number; weightDecay: number };
  step = 0;
  constructor(params: Iterable<Parameter>, opts: { lr: number; betas?: [number, number]; eps?: number; weightDecay?: number }) {
    this.params = [...params];
    this.m = this.params.map((p) => zerosLike(p));
    this.v = this.params.map((p) => zerosLike(p));
    this.opts = { betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, ...opts };
  }

  update(lr = this.opts.lr): void {
    this.step++;
    const [b1, b2] = this.opts.betas;
    const c1 = 1 - b1 ** this.step;
    const c2 = 1 - b2 ** this.step;
    noGrad(() =>
      scope(() => {
        this.params.forEach((p, i) => {
          if (!p.grad) return;
          const m = (this.m[i] as Tensor).mul_(b1).add_(p.grad, 1 - b1);
          const v = (this.v[i] as Tensor).mul_(b2).add_(p.grad.square(), 1 - b2);
          const denom = v.div(c2).sqrt().add(this.opts.eps);
          p.mul_(1 - lr * this.opts.weightDecay);
          p.sub_(m.div(denom), lr / c1);
        });
      }),
    );
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}
