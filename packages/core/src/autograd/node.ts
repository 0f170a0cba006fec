// A recorded operation in the autograd graph. Nodes are reference counted like storages: a node
// lives while a tensor it produced, or a later node that consumed its output, still needs it.
// When the count drops to zero its saved tensors are freed at once and its inputs are released.
import type { Tensor } from '../tensor.ts';

/** Where an input's gradient goes: into another node's output slot, or into a leaf tensor. */
export type Edge = { node: Node; index: number } | { leaf: Tensor } | null;

export type BackwardFn = (gradOutputs: Tensor[]) => (Tensor | null | undefined)[];

export class Node {
  readonly name: string;
  readonly edges: Edge[];
  /** Shapes and dtypes of the outputs, to materialise zero gradients for unused outputs. */
  readonly outputs: { shape: readonly number[]; dtype: Tensor['dtype']; device: Tensor['device'] }[];
  /** Shapes of the differentiable inputs, to check the gradients a backward returns. */
  readonly inputShapes: (readonly number[] | null)[];
  backward: BackwardFn | null;
  saved: Tensor[];
  #refs = 0;
  /** Set once backward has run through this node without retainGraph. */
  consumed = false;
  readonly sequence = takeSequenceNumber();

  constructor(
    name: string,
    edges: Edge[],
    inputShapes: (readonly number[] | null)[],
    outputs: Node['outputs'],
    backward: BackwardFn,
    saved: Tensor[],
  ) {
    this.name = name;
    this.edges = edges;
    this.inputShapes = inputShapes;
    this.outputs = outputs;
    this.backward = backward;
    this.saved = saved;
    for (const e of edges) if (e && 'node' in e) e.node.retain();
  }

  retain(): void {
    this.#refs++;
  }

  release(): void {
    if (--this.#refs > 0) return;
    this.freeSaved();
    this.backward = null;
    for (const e of this.edges) if (e && 'node' in e) e.node.release();
    this.edges.length = 0;
  }

  /** Frees the tensors saved for backward (after backward ran, or when the node dies). */
  freeSaved(): void {
    for (const t of this.saved) t.dispose();
    this.saved = [];
  }
}

let nextSequence = 0;
/** @internal Creation order of nodes: backward runs the most recent ready node first. */
export function takeSequenceNumber(): number {
  return nextSequence++;
}
