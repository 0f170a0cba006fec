// What every GPT submodule is built from: the resolved config, the TP group, dtype and device, and
// a generator per parameter name (so initialization does not depend on the TP size, the padded
// vocabulary or the order modules are built in).
import type { DeviceLike, DType, Generator } from '@tessera/core';
import { generatorFor, type TensorParallel } from '@tessera/tensor-parallel';
import type { ResolvedGptConfig } from './config.ts';

export class BuildContext {
  readonly config: ResolvedGptConfig;
  readonly tp: TensorParallel;
  readonly dtype: DType;
  readonly device: DeviceLike | undefined;
  readonly seed: number;
  readonly prefix: string;

  constructor(config: ResolvedGptConfig, tp: TensorParallel, opts: { dtype: DType; device: DeviceLike | undefined; seed: number; prefix?: string }) {
    this.config = config;
    this.tp = tp;
    this.dtype = opts.dtype;
    this.device = opts.device;
    this.seed = opts.seed;
    this.prefix = opts.prefix ?? '';
  }

  /** The context for a child module called `name` (its parameters are named `prefix.name.…`). */
  child(name: string): BuildContext {
    return new BuildContext(this.config, this.tp, { dtype: this.dtype, device: this.device, seed: this.seed, prefix: this.path(name) });
  }

  path(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  /** The generator of this module's parameter `param` (e.g. 'weight'). */
  generator(param: string): Generator {
    return generatorFor(this.seed, this.path(param));
  }

  /** dtype and device for factories. */
  get factory(): { dtype: DType; device: DeviceLike | undefined } {
    return { dtype: this.dtype, device: this.device };
  }
}
