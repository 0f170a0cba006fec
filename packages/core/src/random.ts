// Seeded random numbers, one generator per device. Draws use Philox (counter based), so a
// generator is just (seed, offset): the CPU and CUDA backends produce the same numbers for the same
// state, and a state can be saved and restored exactly (checkpoints).
import type { Device } from './device.ts';

export interface GeneratorState {
  seed: number;
  offset: number;
}

const DEFAULT_SEED = 67280421310721;

export class Generator {
  seed: number;
  /** Philox blocks consumed so far; each block yields 4 numbers. */
  offset = 0;

  constructor(seed = DEFAULT_SEED) {
    this.seed = checkSeed(seed);
  }

  manualSeed(seed: number): this {
    this.seed = checkSeed(seed);
    this.offset = 0;
    return this;
  }

  /** Reserves the counter range for a draw of n numbers and returns where it starts. */
  reserve(n: number): { seed: number; counter: number } {
    const counter = this.offset;
    this.offset += Math.ceil(n / 4);
    return { seed: this.seed, counter };
  }

  getState(): GeneratorState {
    return { seed: this.seed, offset: this.offset };
  }

  setState(state: GeneratorState): void {
    this.seed = checkSeed(state.seed);
    if (!Number.isSafeInteger(state.offset) || state.offset < 0) throw new Error(`invalid generator offset ${state.offset}`);
    this.offset = state.offset;
  }
}

function checkSeed(seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(`a seed must be a non-negative safe integer, got ${seed}`);
  }
  return seed;
}

const generators = new Map<Device, Generator>();
let seedForNewGenerators = DEFAULT_SEED;

export function defaultGenerator(device: Device): Generator {
  let g = generators.get(device);
  if (!g) {
    g = new Generator(seedForNewGenerators);
    generators.set(device, g);
  }
  return g;
}

/** Seeds every device's default generator, including those created later (like torch.manual_seed). */
export function manualSeed(seed: number): void {
  seedForNewGenerators = checkSeed(seed);
  for (const g of generators.values()) g.manualSeed(seed);
}

export function initialSeed(): number {
  return seedForNewGenerators;
}
