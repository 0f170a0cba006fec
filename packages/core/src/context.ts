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

// Contexts entered by code known to be synchronous (autograd forwards): a plain stack is enough
// there, since nothing else can run until the function returns, and it is much cheaper than
// AsyncLocalStorage. It is consulted first.
const syncStack: Context[] = [];

export function currentContext(): Context {
  return syncStack.length > 0 ? (syncStack[syncStack.length - 1] as Context) : (storage.getStore() ?? rootContext);
}

export function runInContext<T>(ctx: Context, fn: () => T): T {
  if (syncStack.length > 0) {
    // Inside a synchronous section: an async fn would outlive it, so keep using the stack.
    syncStack.push(ctx);
    try {
      return fn();
    } finally {
      syncStack.pop();
    }
  }
  return storage.run(ctx, fn);
}

/** Runs a function that must not be async in a context, without AsyncLocalStorage's cost. */
export function runSync<T>(ctx: Context, fn: () => T): T {
  syncStack.push(ctx);
  try {
    const out = fn();
    if (out instanceof Promise) throw new Error('this function must be synchronous, but it returned a promise');
    return out;
  } finally {
    syncStack.pop();
  }
}

export function isGradEnabled(): boolean {
  return currentContext().gradEnabled;
}

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const ctx = currentContext();
  if (ctx.gradEnabled === enabled) return fn();
  return runInContext({ scope: ctx.scope, gradEnabled: enabled }, fn);
}

/** Runs fn without recording autograd history (also across awaits inside fn). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs fn with autograd recording, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}
