// @tessera/tensor-parallel: Megatron-Core's tensor_parallel package in TypeScript — the conjugate
// mappings (and their sequence-parallel forms), column/row/vocab-parallel layers, vocab-parallel
// cross entropy, the RNG tracker, and initialization that is the same at every TP size.
export { type TensorParallel, type TensorParallelOptions, tensorParallel } from './tensor-parallel.ts';
export { MODEL_PARALLEL_RNG, modelParallelManualSeed, RngTracker } from './random.ts';
export {
  copyToTensorParallelRegion, gatherFromSequenceParallelRegion, gatherFromTensorParallelRegion, reduceFromTensorParallelRegion,
  reduceScatterToSequenceParallelRegion, scatterToSequenceParallelRegion, scatterToTensorParallelRegion,
} from './mappings.ts';
export { generatorFor, type InitMethod, initFull, initNormal, initPartitioned, type PartitionSpec, scaledInitNormal } from './init.ts';
export type { LinearOptions } from './layers/options.ts';
export { ColumnParallelLinear, type ColumnParallelOptions, type ParallelLinearOutput } from './layers/column.ts';
export { RowParallelLinear, type RowParallelOptions } from './layers/row.ts';
export { VocabParallelEmbedding, type VocabParallelEmbeddingOptions } from './layers/vocab-embedding.ts';
export { vocabParallelCrossEntropy, type VocabParallelCrossEntropyOptions } from './cross-entropy.ts';
export { allReduceSequenceParallelGrads } from './grads.ts';
export { divide, vocabRange } from './utils.ts';
