// Selections of a tensor along one dimension: a list of [start, end) ranges of that dimension,
// concatenated in order. Rows [a, b) are { dim: 0, ranges: [[a, b]] }, columns are dim 1, and the
// blocks of rows one tensor-parallel rank owns in a grouped QKV weight are several dim-0 ranges.
// Copies go straight from the source bytes into their place in the destination, row by row.

export type Range = readonly [start: number, end: number];

export interface Selection {
  readonly dim: number;
  readonly ranges: readonly Range[];
}

export const rows = (start: number, end: number): Selection => ({ dim: 0, ranges: [[start, end]] });
export const columns = (start: number, end: number): Selection => ({ dim: 1, ranges: [[start, end]] });
export const rowBlocks = (ranges: readonly Range[]): Selection => ({ dim: 0, ranges });

/** Checks a selection against a shape; returns the selected shape, or a reason it is invalid. */
export function selectedShape(shape: readonly number[], sel: Selection): number[] | string {
  if (!Number.isInteger(sel.dim) || sel.dim < 0 || sel.dim >= shape.length) {
    return `dimension ${sel.dim} does not exist in a tensor of shape [${shape.join(', ')}]`;
  }
  const size = shape[sel.dim] as number;
  let total = 0;
  for (const [start, end] of sel.ranges) {
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > size) {
      return `range [${start}, ${end}) is outside dimension ${sel.dim} of size ${size}`;
    }
    total += end - start;
  }
  const out = [...shape];
  out[sel.dim] = total;
  return out;
}

/** Elements before `dim` (outer) and the bytes of one index of `dim` (inner). */
function strides(shape: readonly number[], dim: number, elemBytes: number): { outer: number; inner: number } {
  let outer = 1;
  for (let i = 0; i < dim; i++) outer *= shape[i] as number;
  let inner = elemBytes;
  for (let i = dim + 1; i < shape.length; i++) inner *= shape[i] as number;
  return { outer, inner };
}

/**
 * Copies src[..., start:end, ...] (along `dim`) into dst[..., at:at+(end-start), ...], where dst
 * has src's shape except `dstDimSize` along `dim`. Returns the number of bytes copied.
 */
export function copyAlongDim(
  src: Uint8Array, srcShape: readonly number[], elemBytes: number, dim: number, range: Range,
  dst: Uint8Array, dstDimSize: number, at: number,
): number {
  const { outer, inner } = strides(srcShape, dim, elemBytes);
  const srcSize = srcShape[dim] as number;
  const [start, end] = range;
  const chunk = (end - start) * inner;
  if (chunk === 0) return 0;
  for (let o = 0; o < outer; o++) {
    const from = (o * srcSize + start) * inner;
    dst.set(src.subarray(from, from + chunk), (o * dstDimSize + at) * inner);
  }
  return outer * chunk;
}

/** The byte range a selection covers when it is one contiguous block of the source, else undefined. */
export function contiguousBytes(shape: readonly number[], elemBytes: number, sel: Selection): Range | undefined {
  if (sel.ranges.length !== 1) return undefined;
  const { outer, inner } = strides(shape, sel.dim, elemBytes);
  const [start, end] = sel.ranges[0] as Range;
  const size = shape[sel.dim] as number;
  if (outer !== 1 && !(start === 0 && end === size)) return undefined;
  return outer === 1 ? [start * inner, end * inner] : [0, outer * size * inner];
}
