// Small arithmetic helpers shared by the layers: exact division with an error that names what
// did not divide, and the vocabulary range a rank owns.

/** numerator / denominator, which must divide exactly (Megatron's `divide`). */
export function divide(numerator: number, denominator: number, what: string): number {
  if (!Number.isInteger(numerator) || !Number.isInteger(denominator) || denominator <= 0 || numerator % denominator !== 0) {
    throw new Error(`${what} (${numerator}) must be divisible by ${denominator}`);
  }
  return numerator / denominator;
}

/** The rows [start, end) of a vocabulary of `size` that tensor-parallel rank `rank` of `world` owns. */
export function vocabRange(size: number, rank: number, world: number): { start: number; end: number } {
  const per = divide(size, world, `the vocabulary size (${size} rows) split over ${world} tensor-parallel ranks`);
  return { start: rank * per, end: (rank + 1) * per };
}
