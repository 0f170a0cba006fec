// backward(): walks the graph from a tensor to the leaves, running each node's backward once all
// gradients for its outputs are in (most recently created node first, as PyTorch does), and
// accumulates into leaves' .grad (or .mainGrad). Gradients and saved tensors are freed as soon as
// they have been used, so peak memory stays close to the forward's.
import { noGrad } from '../context.ts';
import { syncScopeWithGradMode } from '../scope.ts';
import { sameShape, shapeString } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { describeGradMismatch, alias } from './function.ts';
import type { Node } from './node.ts';
import { accumulateInto, castTo, filled, sumTensors } from './grad-utils.ts';

export interface BackwardOptions {
  /** Keep saved tensors so backward can run through the graph again. */
  retainGraph?: boolean;
}

function collect(roots: Node[]): Map<Node, number> {
  const deps = new Map<Node, number>(roots.map((r) => [r, 0]));
  const stack = [...roots];
  while (stack.length) {
    const node = stack.pop() as Node;
    if (node.consumed) {
      throw new Error(
        `backward: the graph through '${node.name}' was already used by an earlier backward() and its saved tensors are freed; ` +
          'pass { retainGraph: true } to the first backward() to run it twice',
      );
    }
    for (const e of node.edges) {
      if (!e || !('node' in e)) continue;
      const seen = deps.has(e.node);
      deps.set(e.node, (deps.get(e.node) ?? 0) + 1);
      if (!seen) stack.push(e.node);
    }
  }
  return deps;
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (leaf.disposed) {
    g.dispose();
    return;
  }
  if (leaf.mainGrad) {
    accumulateInto(leaf.mainGrad, g);
    g.dispose();
  } else if (!leaf.grad) {
    // Steal the gradient when nothing else shares its memory; otherwise keep a private copy.
    if (g._storage.refs === 1 && g.dtype === leaf.dtype) {
      leaf.grad = g;
    } else {
      leaf.grad = castTo(g, leaf.dtype);
      g.dispose();
    }
  } else {
    accumulateInto(leaf.grad, g);
    g.dispose();
  }
  runPostAccumulateHooks(leaf);
}

/** Runs a leaf's post-accumulate hooks (also used by ops that accumulate into mainGrad themselves). */
export function runPostAccumulateHooks(leaf: Tensor): void {
  if (leaf._gradHooks) for (const hook of [...leaf._gradHooks]) hook(leaf);
}

export function runBackward(root: Tensor, gradient: Tensor | undefined, options: BackwardOptions = {}): void {
  runBackwardMany([root], [gradient], options);
}

/**
 * Backward from several tensors at once, each with its gradient (undefined: ones, allowed for
 * one-element tensors). Shared parts of their graphs run once, after all contributions arrived.
 */
export function runBackwardMany(roots: Tensor[], gradients: (Tensor | undefined)[], options: BackwardOptions = {}): void {
  roots.forEach((root, i) => {
    root._check();
    if (!root.requiresGrad) {
      throw new Error(`backward: the tensor (${root.describe()}) does not require grad and has no gradient function`);
    }
    const gradient = gradients[i];
    if (gradient) {
      gradient._check();
      if (!sameShape(gradient.shape, root.shape)) {
        throw new Error(`backward: the gradient has shape ${shapeString(gradient.shape)}, but the tensor has ${shapeString(root.shape)}`);
      }
    } else if (root.numel !== 1) {
      throw new Error(`backward: a gradient can only be created implicitly for a one-element tensor, got ${root.describe()}; pass one`);
    }
  });
  noGrad(() => {
    const pending = new Map<Node, (Tensor | undefined)[]>();
    const rootNodes: Node[] = [];
    roots.forEach((root, i) => {
      const gradient = gradients[i];
      const seed = gradient ? alias(gradient) : filled(root.shape, root.dtype, root.device, 1);
      if (!root._gradFn) {
        accumulateLeaf(root, seed);
        return;
      }
      const slots = pending.get(root._gradFn) ?? [];
      pending.set(root._gradFn, slots);
      const prev = slots[root._outputIndex];
      slots[root._outputIndex] = prev ? sumTensors(prev, seed) : seed;
      if (!rootNodes.includes(root._gradFn)) rootNodes.push(root._gradFn);
    });
    if (rootNodes.length === 0) return;
    const deps = collect(rootNodes);
    const ready: Node[] = rootNodes.filter((n) => deps.get(n) === 0);
    try {
      while (ready.length) {
        // The most recently created ready node first.
        let best = 0;
        for (let i = 1; i < ready.length; i++) if ((ready[i] as Node).sequence > (ready[best] as Node).sequence) best = i;
        const node = ready.splice(best, 1)[0] as Node;
        const slots = pending.get(node) ?? [];
        pending.delete(node);
        const grads = node.outputs.map((o, i) => slots[i] ?? filled(o.shape, o.dtype, o.device, 0));
        if (!node.backward) throw new Error(`backward: '${node.name}' was released before backward reached it`);
        const backwardFn = node.backward;
        const gradInputs = syncScopeWithGradMode(() => backwardFn(grads), false);
        const owned = gradInputs.map((g) => (g ? alias(g) : undefined));
        for (const g of gradInputs) g?.dispose();
        for (const g of grads) g.dispose();
        if (!options.retainGraph) {
          node.freeSaved();
          node.consumed = true;
        }
        node.edges.forEach((edge, i) => {
          const g = owned[i];
          if (!g) return;
          const expected = node.inputShapes[i];
          if (!edge || !expected) {
            g.dispose();
            return;
          }
          if (!sameShape(g.shape, expected)) {
            g.dispose();
            throw new Error(describeGradMismatch(node.name, i, expected, g.shape));
          }
          if ('leaf' in edge) {
            accumulateLeaf(edge.leaf, g);
            return;
          }
          const target = pending.get(edge.node) ?? [];
          pending.set(edge.node, target);
          const prev = target[edge.index];
          target[edge.index] = prev ? sumTensors(prev, g) : g;
          const left = (deps.get(edge.node) as number) - 1;
          deps.set(edge.node, left);
          if (left === 0) ready.push(edge.node);
        });
        for (let i = node.edges.length; i < owned.length; i++) owned[i]?.dispose();
      }
    } finally {
      for (const slots of pending.values()) for (const g of slots) g?.dispose();
    }
  });
}
