// Hugging Face interop for the GPT family: config.json -> GptConfig, name maps per family, and
// loading safetensors checkpoints into any tensor-parallel layout.
export { hfModelConfig, readHfConfig } from './config.ts';
export { HfConfigError, type HfJson } from './config-read.ts';
export type { HfModelConfig, HfConfigOptions } from './config-types.ts';
export { type GptDims, type TpRank, qkvRows, vocabRows } from './layout.ts';
export { NAME_MAPS, GPT2_NAMES, LLAMA_NAMES, type HfFamily, type NameMap, type NameMapEntry, type Split } from './names/index.ts';
export { planFor, type ReadPlan, type Piece } from './plan.ts';
export { loadHfWeights, HfCheckpointError, type HfLoadOptions, type HfLoadReport } from './load.ts';
export { loadHfCheckpoint, gptFromHf, type GptFromHf, type GptFromHfOptions } from './pretrained.ts';
