// Megatron's blending indices (helpers.cpp): which dataset each blended sample comes from, and
// which of that dataset's samples. Greedy and deterministic, without randomness: sample k goes
// to the dataset furthest below its target share (ties to the lower index).

export function buildBlendingIndices(weights: readonly number[], size: number): { datasetIndex: Int16Array; datasetSampleIndex: Float64Array } {
  const datasetIndex = new Int16Array(size);
  const datasetSampleIndex = new Float64Array(size);
  const current = new Float64Array(weights.length);
  for (let k = 0; k < size; k++) {
    const kd = Math.max(k, 1);
    let best = 0;
    let bestError = weights[0]! * kd - current[0]!;
    for (let d = 1; d < weights.length; d++) {
      const error = weights[d]! * kd - current[d]!;
      if (error > bestError) {
        bestError = error;
        best = d;
      }
    }
    datasetIndex[k] = best;
    datasetSampleIndex[k] = current[best]!;
    current[best]! += 1;
  }
  return { datasetIndex, datasetSampleIndex };
}

/** Exactly sizes[i] samples from dataset i, interleaved in proportion to the sizes. */
export function buildExhaustiveBlendingIndices(sizes: readonly number[]): { datasetIndex: Int16Array; datasetSampleIndex: Float64Array } {
  const total = sizes.reduce((a, b) => a + b, 0);
  const weights = sizes.map((s) => s / total);
  const datasetIndex = new Int16Array(total);
  const datasetSampleIndex = new Float64Array(total);
  const counts = new Float64Array(sizes.length);
  const unspent = new Set<number>();
  for (let i = 0; i < sizes.length; i++) if (sizes[i]! > 0) unspent.add(i);
  let k = 0;
  while (unspent.size > 0) {
    const kd = Math.max(k, 1);
    let best = -1;
    let bestError = -Number.MAX_VALUE;
    for (const d of [...unspent].sort((a, b) => a - b)) {
      const error = weights[d]! * kd - counts[d]!;
      if (error > bestError) {
        bestError = error;
        best = d;
      }
    }
    datasetIndex[k] = best;
    datasetSampleIndex[k] = counts[best]!;
    counts[best]! += 1;
    if (counts[best] === sizes[best]) unspent.delete(best);
    k++;
  }
  return { datasetIndex, datasetSampleIndex };
}
