// Activation checkpointing (Megatron's recompute): run a block without keeping its activations,
// then run it again during backward to get them. Only the block's inputs are kept. Random state
// is captured before the first run and restored for the second, so dropout masks are the same.
import { enableGrad } from '../context.ts';
import type { Device } from '../device.ts';
import { isFloatingDtype } from '../dtype.ts';
import { defaultGenerator, type GeneratorState } from '../random.ts';
import { scope } from '../scope.ts';
import { Tensor } from '../tensor.ts';
import { runBackwardMany } from './engine.ts';
import { defineFunction } from './function.ts';

/** Extra random state a checkpointed block may draw from (e.g. a tensor-parallel RNG tracker). */
export interface RngStateProvider {
  getState(): unknown;
  setState(state: unknown): void;
}

const providers = new Set<RngStateProvider>();

/** Registers random state that checkpoint() saves before a block and restores to recompute it. */
export function registerRngStateProvider(provider: RngStateProvider): () => void {
  providers.add(provider);
  return () => providers.delete(provider);
}

interface SavedRng {
  generators: Map<Device, GeneratorState>;
  providers: Map<RngStateProvider, unknown>;
}

function captureRng(devices: Set<Device>): SavedRng {
  return {
    generators: new Map([...devices].map((d) => [d, defaultGenerator(d).getState()])),
    providers: new Map([...providers].map((p) => [p, p.getState()])),
  };
}

function restoreRng(saved: SavedRng): void {
  for (const [d, state] of saved.generators) defaultGenerator(d).setState(state);
  for (const [p, state] of saved.providers) p.setState(state);
}

type Block = (...inputs: Tensor[]) => Tensor | Tensor[];

const CheckpointFn = defineFunction({
  name: 'checkpoint',
  forward(ctx, fn: Block, ...inputs: Tensor[]) {
    const devices = new Set(inputs.map((t) => t.device));
    ctx.rng = captureRng(devices);
    ctx.fn = fn;
    ctx.needs = inputs.map((t) => t.requiresGrad || t._gradFn !== null);
    ctx.saveForBackward(...inputs);
    const out = fn(...inputs); // runs without recording (forward is under noGrad)
    ctx.single = !Array.isArray(out);
    return out;
  },
  backward(ctx, ...grads) {
    const inputs = ctx.savedTensors;
    const now = captureRng(new Set((ctx.rng as SavedRng).generators.keys()));
    restoreRng(ctx.rng as SavedRng);
    try {
      // Fresh leaves stand in for the inputs, so the recomputed graph ends at them.
      const leaves = inputs.map((t, i) => {
        const leaf = new Tensor(t._storage, t._offset, t.shape, t.dtype);
        leaf.requiresGrad = (ctx.needs as boolean[])[i] === true && isFloatingDtype(t.dtype);
        return leaf;
      });
      scope(() => {
        const recomputed = enableGrad(() => (ctx.fn as Block)(...leaves));
        const outs = Array.isArray(recomputed) ? recomputed : [recomputed];
        const roots: Tensor[] = [];
        const seeds: Tensor[] = [];
        outs.forEach((o, i) => {
          if (o.requiresGrad && grads[i]) {
            roots.push(o);
            seeds.push(grads[i] as Tensor);
          }
        });
        if (roots.length) runBackwardMany(roots, seeds);
      });
      const result = leaves.map((leaf) => {
        const g = leaf.grad;
        leaf.grad = null;
        return g;
      });
      return [null, ...result];
    } finally {
      restoreRng(now);
    }
  },
});

/**
 * Runs fn(...inputs) keeping only the inputs for backward, and recomputes fn's activations during
 * backward. fn must be deterministic given its inputs and the random state (dropout is fine).
 */
export function checkpoint<T extends Tensor | Tensor[]>(fn: (...inputs: Tensor[]) => T, ...inputs: Tensor[]): T {
  if (inputs.length === 0) throw new Error('checkpoint: pass the block its input tensors as arguments');
  return CheckpointFn(fn as Block, ...inputs) as T;
}
