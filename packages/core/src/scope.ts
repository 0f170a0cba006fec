// Deterministic memory release. Tensors created inside scope(fn) are disposed when fn finishes
// (after its promise settles, for async fn), except the tensors fn returns (found in arrays and
// plain objects) and those passed to keep(). Returned tensors move to the enclosing scope.
import { currentContext, runInContext, runSync, Scope } from './context.ts';
import { Tensor } from './tensor.ts';

export function track(t: Tensor): void {
  const s = currentContext().scope;
  if (s && !s.ended) {
    s.tensors.add(t);
    t._scope = s;
  }
}

export function untrack(t: Tensor): void {
  if (t._scope) {
    t._scope.tensors.delete(t);
    t._scope = undefined;
  }
}

/** Exempts a tensor from every scope: the caller now owns it and must dispose it. */
export function keep<T extends Tensor>(t: T): T {
  untrack(t);
  return t;
}

function collectTensors(value: unknown, out: Set<Tensor>, seen: Set<unknown>): void {
  if (value instanceof Tensor) {
    out.add(value);
    return;
  }
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, out, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collectTensors(v, out, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, out, seen);
  }
}

function endScope(s: Scope, result: unknown): void {
  s.ended = true;
  const returned = new Set<Tensor>();
  collectTensors(result, returned, new Set());
  const parent = s.parent && !s.parent.ended ? s.parent : undefined;
  for (const t of s.tensors) {
    if (returned.has(t)) {
      t._scope = parent;
      parent?.tensors.add(t);
    } else {
      t._scope = undefined;
      t.dispose();
    }
  }
  s.tensors.clear();
}

/**
 * Runs fn in a new tensor scope. Works with async functions: the scope ends when the returned
 * promise settles, and tensors created in awaited continuations inside fn belong to it.
 */
export function scope<T>(fn: () => T): T {
  return scopeWithGradMode(fn, currentContext().gradEnabled);
}

/** @internal scope() that also sets whether autograd records inside it. */
export function scopeWithGradMode<T>(fn: () => T, gradEnabled: boolean): T {
  const s = new Scope(currentContext().scope);
  let result: T;
  try {
    result = runInContext({ scope: s, gradEnabled }, fn);
  } catch (err) {
    endScope(s, undefined);
    throw err;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => {
        endScope(s, v);
        return v;
      },
      (err) => {
        endScope(s, undefined);
        throw err;
      },
    ) as T;
  }
  endScope(s, result);
  return result;
}

/** @internal scopeWithGradMode for a function known to be synchronous (autograd forwards): cheaper. */
export function syncScopeWithGradMode<T>(fn: () => T, gradEnabled: boolean): T {
  const s = new Scope(currentContext().scope);
  let result: T;
  try {
    result = runSync({ scope: s, gradEnabled }, fn);
  } catch (err) {
    endScope(s, undefined);
    throw err;
  }
  endScope(s, result);
  return result;
}

/** Disposes every tensor found in a value (tensors, arrays, plain objects, maps). */
export function dispose(value: unknown): void {
  const found = new Set<Tensor>();
  collectTensors(value, found, new Set());
  for (const t of found) t.dispose();
}
