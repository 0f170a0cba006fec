// Custom autograd functions: a forward that computes outputs from inputs, and a backward that
// maps output gradients to input gradients. Every differentiable op in Tessera is one of these,
// and users write their own the same way (the tensor-parallel mappings are).
import { isGradEnabled } from '../context.ts';
import { isFloatingDtype } from '../dtype.ts';
import { syncScopeWithGradMode } from '../scope.ts';
import { shapeString } from '../shape.ts';
import { Tensor } from '../tensor.ts';
import { type Edge, Node } from './node.ts';

export interface FunctionContext {
  /** Keeps tensors alive until backward (freed as soon as backward has used them). */
  saveForBackward(...tensors: Tensor[]): void;
  /** The saved tensors, in the order saved. */
  readonly savedTensors: Tensor[];
  /** For each argument: whether its gradient is wanted (false for non-tensors). */
  readonly needsInputGrad: boolean[];
  /** Outputs that have no gradient (e.g. indices). */
  markNonDifferentiable(...tensors: Tensor[]): void;
  /** Free-form state for backward. */
  [key: string]: unknown;
}

export interface FunctionSpec<Args extends unknown[], Out extends Tensor | Tensor[]> {
  name: string;
  forward(ctx: FunctionContext, ...args: Args): Out;
  /**
   * One gradient per argument of forward (null/undefined where there is none). Output gradients
   * arrive materialised: an output that did not influence the loss gets zeros.
   */
  backward(ctx: FunctionContext, ...gradOutputs: Tensor[]): (Tensor | null | undefined)[];
}

/** A new tensor object sharing `t`'s storage, outside every scope (for saved tensors). */
export function alias(t: Tensor): Tensor {
  return new Tensor(t._storage, t._offset, t.shape, t.dtype, false);
}

class Context implements FunctionContext {
  [key: string]: unknown;
  readonly needsInputGrad: boolean[];
  _saved: Tensor[] = [];
  _nonDiff: Set<Tensor> | undefined;
  constructor(needs: boolean[]) {
    this.needsInputGrad = needs;
  }
  saveForBackward(...tensors: Tensor[]): void {
    for (const t of tensors) this._saved.push(alias(t._check()));
  }
  get savedTensors(): Tensor[] {
    return this._saved;
  }
  markNonDifferentiable(...tensors: Tensor[]): void {
    this._nonDiff ??= new Set();
    for (const t of tensors) this._nonDiff.add(t);
  }
}

function edgeOf(t: Tensor): Edge {
  if (t._gradFn) return { node: t._gradFn, index: t._outputIndex };
  return t.requiresGrad ? { leaf: t } : null;
}

/** Makes a callable autograd function from a forward/backward pair. */
export function defineFunction<Args extends unknown[], Out extends Tensor | Tensor[]>(
  spec: FunctionSpec<Args, Out>,
): (...args: Args) => Out {
  return (...args: Args): Out => {
    for (const a of args) if (a instanceof Tensor) a._check();
    const record = isGradEnabled();
    const needs = args.map((a) => record && a instanceof Tensor && (a.requiresGrad || a._gradFn !== null));
    const ctx = new Context(needs);
    // Without recording, in a scope of its own: temporaries the forward makes are freed at once.
    const out = syncScopeWithGradMode(() => spec.forward(ctx, ...args), false);
    if (!needs.some(Boolean)) {
      for (const t of ctx._saved) t.dispose();
      return out;
    }
    const outputs = Array.isArray(out) ? out : [out];
    const edges = args.map((a, i) => (needs[i] ? edgeOf(a as Tensor) : null));
    const inputShapes = args.map((a, i) => (needs[i] ? (a as Tensor).shape : null));
    const node = new Node(
      spec.name,
      edges,
      inputShapes,
      outputs.map((t) => ({ shape: t.shape, dtype: t.dtype, device: t.device })),
      (grads) => spec.backward(ctx, ...grads),
      ctx._saved,
    );
    outputs.forEach((t, i) => {
      if (ctx._nonDiff?.has(t) || !isFloatingDtype(t.dtype)) return;
      if (t._gradFn || args.includes(t)) {
        throw new Error(`${spec.name}: forward returned a tensor that is an input or already has a gradient function; return a new tensor (a view or a copy)`);
      }
      t._gradFn = node;
      t._outputIndex = i;
      t.requiresGrad = true;
      node.retain();
    });
    // Nothing holds the node (all outputs non-differentiable): free it now.
    if (!outputs.some((t) => t._gradFn === node)) {
      node.retain();
      node.release();
    }
    return out;
  };
}

export function describeGradMismatch(name: string, index: number, expected: readonly number[], got: readonly number[]): string {
  return `${name} backward: the gradient for input ${index} has shape ${shapeString(got)}, expected ${shapeString(expected)}`;
}
