// Execution context carried through sync and async code (AsyncLocalStorage): the innermost tensor
// scope, and whether autograd records. Both work across `await`.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Tensor } from './tensor.ts';

export class Scope {
  readonly tensors = new Set<Tensor>();
  readonly parent: Scope | undefined;
  ended = false;
  constructor(parent: Scope | undefined) {
    this.parent = parent;
  }
}

interface Context {
  scope: Scope | undefined;
  gradEnabled: boolean;
}

const storage = new AsyncLocalStorage<Context>();
const rootContext: Context = { scope: undefined, gradEnabled: true };

export function currentContext(): Context {
  return storage.getStore() ?? rootContext;
}

export function runInContext<T>(ctx: Context, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function isGradEnabled(): boolean {
  return currentContext().gradEnabled;
}

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const ctx = currentContext();
  if (ctx.gradEnabled === enabled) return fn();
  return storage.run({ scope: ctx.scope, gradEnabled: enabled }, fn);
}

/** Runs fn without recording autograd history (also across awaits inside fn). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with autograd recording, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}
