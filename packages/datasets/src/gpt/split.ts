// Megatron's split strings ("969,30,1") and the split matrix of book-ends derived from them
// (`parse_and_normalize_split`, `convert_split_vector_to_split_matrix`).
import { npNormalize, pyRound } from '../random/numpy-math.ts';

export type SplitName = 'train' | 'valid' | 'test';
export const SPLITS: readonly SplitName[] = ['train', 'valid', 'test'];
export type SplitMatrix = ([number, number] | null)[];

/** "969, 30, 1" -> [0.969, 0.03, 0.001]: numbers found by /[.0-9]+/, padded with zeros to 3, normalized. */
export function parseSplit(split: string): number[] {
  const found = split.match(/[.0-9]+/g) ?? [];
  const values = found.map((s) => {
    const v = Number(s);
    if (!Number.isFinite(v)) throw new Error(`split "${split}": "${s}" is not a number`);
    return v;
  });
  if (values.length > 3) throw new Error(`split "${split}" has ${values.length} parts; give at most 3 (train, valid, test)`);
  while (values.length < 3) values.push(0);
  if (values.every((v) => v === 0)) throw new Error(`split "${split}" gives every split weight 0`);
  return npNormalize(values);
}

/** [0.969, 0.03, 0.001] -> [(0, 0.969), (0.969, 0.999), (0.999, 1.0)]; a zero-weight split is null. */
export function splitMatrix(vector: number[]): SplitMatrix {
  const ends = [0];
  for (const v of vector) ends.push(ends[ends.length - 1]! + v);
  const matrix: SplitMatrix = [];
  for (let i = 0; i < vector.length; i++) {
    const lo = ends[i]!;
    const hi = ends[i + 1]!;
    matrix.push(hi <= lo ? null : [lo, hi]);
  }
  return matrix;
}

/** The contiguous element range [begin, end) of each split over `count` elements (round half to even, as Python). */
export function splitRanges(matrix: SplitMatrix, count: number): ([number, number] | null)[] {
  return matrix.map((b) => (b === null ? null : [pyRound(b[0] * count), pyRound(b[1] * count)]));
}
