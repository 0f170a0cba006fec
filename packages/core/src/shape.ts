// Shape arithmetic: element counts, contiguous strides, broadcasting, dimension normalising, and
// collapsing dimensions before a strided kernel call.

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d] as number;
  }
  return strides;
}

export function shapeString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function checkShape(shape: readonly unknown[], what = 'shape'): number[] {
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new TypeError(`${what} must hold non-negative integers, got [${shape.join(', ')}]`);
    }
  }
  return shape as number[];
}

/** Normalises a possibly negative dimension index for a tensor of rank `rank`. */
export function normDim(dim: number, rank: number, what = 'dim'): number {
  const r = Math.max(rank, 1);
  if (!Number.isInteger(dim) || dim < -r || dim >= r) {
    throw new RangeError(`${what} ${dim} is out of range for a tensor of rank ${rank} (expected -${r}..${r - 1})`);
  }
  return dim < 0 ? dim + r : dim;
}

/** The broadcast shape of two shapes (NumPy rules), or a clear error naming both. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`shapes ${shapeString(a)} and ${shapeString(b)} cannot be broadcast together (dimension ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read a contiguous tensor of `shape` as if it had `target` shape (0 where broadcast). */
export function broadcastStrides(shape: Shape, target: Shape): number[] {
  const strides = contiguousStrides(shape);
  const out = new Array<number>(target.length).fill(0);
  const offset = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[offset + i] = shape[i] === 1 ? 0 : (strides[i] as number);
  return out;
}

/**
 * Merges adjacent dimensions that every operand walks contiguously together, so kernels iterate
 * over as few dimensions as possible. `strides` holds one stride list per operand.
 */
export function collapseDims(shape: Shape, strides: number[][]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const size = shape[d] as number;
    if (size === 1) continue;
    const last = outShape.length - 1;
    const mergeable =
      last >= 0 &&
      strides.every((s, k) => (outStrides[k]![last] as number) === (s[d] as number) * size);
    if (mergeable) {
      outShape[last] = (outShape[last] as number) * size;
      strides.forEach((s, k) => {
        outStrides[k]![last] = s[d] as number;
      });
    } else {
      outShape.push(size);
      strides.forEach((s, k) => {
        outStrides[k]!.push(s[d] as number);
      });
    }
  }
  return { shape: outShape, strides: outStrides };
}

/** Views a shape as [outer, size, inner] around `dim`. */
export function splitAt(shape: Shape, dim: number): { outer: number; size: number; inner: number } {
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < dim; i++) outer *= shape[i] as number;
  for (let i = dim + 1; i < shape.length; i++) inner *= shape[i] as number;
  return { outer, size: shape[dim] ?? 1, inner };
}

/** Resolves one -1 in a reshape target against `total` elements. */
export function inferShape(target: readonly number[], total: number, from: Shape): number[] {
  let infer = -1;
  let known = 1;
  target.forEach((d, i) => {
    if (d === -1) {
      if (infer >= 0) throw new Error(`reshape: only one dimension may be -1, got ${shapeString(target)}`);
      infer = i;
    } else {
      if (!Number.isInteger(d) || d < 0) throw new Error(`reshape: invalid dimension ${d} in ${shapeString(target)}`);
      known *= d;
    }
  });
  const out = [...target];
  if (infer >= 0) {
    if (known === 0 || total % known !== 0) {
      throw new Error(`reshape: cannot infer -1 in ${shapeString(target)} for ${total} elements of ${shapeString(from)}`);
    }
    out[infer] = total / known;
  } else if (known !== total) {
    throw new Error(`reshape: shape ${shapeString(target)} (${known} elements) does not fit ${shapeString(from)} (${total} elements)`);
  }
  return out;
}
