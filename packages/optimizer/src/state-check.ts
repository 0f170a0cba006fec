// Checks for loading state dicts: every problem is collected with its key, and one error lists
// them all, so a wrong checkpoint says everything that is wrong with it at once.
import { Tensor } from '@tessera/core';

export class Problems {
  readonly list: string[] = [];

  add(message: string): void {
    this.list.push(message);
  }

  /** Throws one error naming `what` and every problem, when there are any. */
  throwIfAny(what: string, hint?: string): void {
    if (this.list.length === 0) return;
    const shown = this.list.slice(0, 30);
    const more = this.list.length > shown.length ? `\n  - ... and ${this.list.length - shown.length} more` : '';
    throw new Error(`${what}: ${this.list.length} problem(s):\n  - ${shown.join('\n  - ')}${more}${hint ? `\n${hint}` : ''}`);
  }
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** A saved tensor that must have `shape` (and a floating dtype); returns it when usable. */
export function checkTensor(problems: Problems, key: string, value: unknown, shape: readonly number[]): Tensor | undefined {
  if (!(value instanceof Tensor)) {
    problems.add(`'${key}' must be a tensor, got ${value === null ? 'null' : typeof value}`);
    return undefined;
  }
  if (value.disposed) {
    problems.add(`'${key}' was disposed`);
    return undefined;
  }
  if (value.shape.length !== shape.length || value.shape.some((d, i) => d !== shape[i])) {
    problems.add(`'${key}' has shape ${shapeText(value.shape)}, this optimizer expects ${shapeText(shape)}`);
    return undefined;
  }
  if (!['f32', 'f64', 'bf16', 'f16'].includes(value.dtype)) {
    problems.add(`'${key}' must be a floating tensor, got ${value.dtype}`);
    return undefined;
  }
  return value;
}

export function checkNumber(problems: Problems, key: string, value: unknown, opts: { integer?: boolean; min?: number } = {}): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    problems.add(`'${key}' must be a finite number, got ${JSON.stringify(value)}`);
    return undefined;
  }
  if (opts.integer && !Number.isInteger(value)) {
    problems.add(`'${key}' must be an integer, got ${value}`);
    return undefined;
  }
  if (opts.min !== undefined && value < opts.min) {
    problems.add(`'${key}' must be at least ${opts.min}, got ${value}`);
    return undefined;
  }
  return value;
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Tensor);
}
