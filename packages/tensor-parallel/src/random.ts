// Megatron's CUDA RNG tracker: named generator states that code can "fork" into. Inside a fork the
// device's default generator runs from the named state (so dropout inside a tensor-parallel
// region draws different masks on each TP rank), and the advanced state is stored back after.
// The tracker registers itself with core's checkpoint(), so recomputation replays its draws.
import {
  type Device, type DeviceLike, defaultGenerator, type GeneratorState, manualSeed, parseDevice, registerRngStateProvider,
} from '@tessera/core';
import type { TensorParallel } from './tensor-parallel.ts';

/** The tracker state used inside tensor-parallel regions. */
export const MODEL_PARALLEL_RNG = 'model-parallel-rng';

export class RngTracker {
  readonly device: Device;
  readonly #states = new Map<string, GeneratorState>();
  readonly #unregister: () => void;

  constructor(device: DeviceLike) {
    this.device = parseDevice(device);
    this.#unregister = registerRngStateProvider({
      getState: () => this.getStates(),
      setState: (s) => this.setStates(s as Record<string, GeneratorState>),
    });
  }

  /** Adds a named state seeded with `seed`; names and seeds must be new (as Megatron checks). */
  add(name: string, seed: number): void {
    if (this.#states.has(name)) throw new Error(`RngTracker: a state named '${name}' already exists; reset() first to reseed`);
    for (const [other, s] of this.#states) {
      if (s.seed === seed) throw new Error(`RngTracker: seed ${seed} is already used by '${other}'; give every state its own seed`);
    }
    this.#states.set(name, { seed, offset: 0 });
  }

  /** Forgets every state. */
  reset(): void {
    this.#states.clear();
  }

  /**
   * Runs fn (synchronously) with the named state as the device's default generator, then stores
   * the advanced state and restores the default generator.
   */
  fork<T>(fn: () => T, name: string = MODEL_PARALLEL_RNG): T {
    const state = this.#states.get(name);
    if (!state) {
      throw new Error(`RngTracker: no state named '${name}'; call modelParallelManualSeed(seed, tp) (or add('${name}', seed)) first`);
    }
    const generator = defaultGenerator(this.device);
    const outside = generator.getState();
    generator.setState(state);
    try {
      const out = fn();
      if (out instanceof Promise) throw new Error('RngTracker.fork: fn must be synchronous (the default generator is swapped only while it runs)');
      return out;
    } finally {
      this.#states.set(name, generator.getState());
      generator.setState(outside);
    }
  }

  /** Copies of every named state (for checkpoints and recomputation). */
  getStates(): Record<string, GeneratorState> {
    return Object.fromEntries([...this.#states].map(([k, s]) => [k, { ...s }]));
  }

  /** Replaces every named state. */
  setStates(states: Record<string, GeneratorState>): void {
    this.#states.clear();
    for (const [k, s] of Object.entries(states)) this.#states.set(k, { seed: s.seed, offset: s.offset });
  }

  /** Stops checkpoint() from saving and restoring this tracker. */
  dispose(): void {
    this.#unregister();
  }
}

/**
 * Megatron's model_parallel_cuda_manual_seed: every device's default generator gets `seed` (the
 * data-parallel stream: equal on all TP ranks), and the tracker's 'model-parallel-rng' gets
 * seed + 2718 + tp.rank (different on each TP rank).
 */
export function modelParallelManualSeed(seed: number, tp: TensorParallel): void {
  manualSeed(seed);
  tp.rng.reset();
  tp.rng.add(MODEL_PARALLEL_RNG, seed + 2718 + tp.rank);
}
