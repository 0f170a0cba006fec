// @tessera/models: transformer models written once from the parallel layers. The GPT family:
// Megatron-Core's GPTModel with its parameter names, GPT-2 sizes and Llama-style options.
export { type GptConfig, gptParameterCount, type Normalization, type PositionEmbeddingType, paddedVocabSize, type ResolvedGptConfig, resolveGptConfig } from './gpt/config.ts';
export { GPT_CONFIGS, gptConfig, type GptConfigName } from './gpt/presets.ts';
export { type GptForwardOptions, GPTModel, type GptModelOptions } from './gpt/model.ts';
export { type RecomputeConfig, resolveRecompute } from './gpt/recompute.ts';
export { maskedMeanLoss } from './gpt/loss.ts';
export { attentionMaskFromPadding, causalMask } from './gpt/masks.ts';
export { alibiSlopes } from './gpt/alibi.ts';
export { applyRotary, rotaryTables } from './gpt/rotary.ts';
export { coreAttention, type CoreAttentionOptions } from './gpt/core-attention.ts';
export {
  hfModelConfig, readHfConfig, HfConfigError, type HfModelConfig, type HfConfigOptions, NAME_MAPS, GPT2_NAMES, LLAMA_NAMES, type HfFamily,
  type NameMap, type NameMapEntry, type Split, loadHfWeights, loadHfCheckpoint, gptFromHf, HfCheckpointError, type HfLoadOptions,
  type HfLoadReport, type GptFromHf, type GptFromHfOptions, planFor, type ReadPlan,
} from './hf/index.ts';
export {
  SafetensorsFile, ShardedSafetensors, openSafetensors, SafetensorsError, serializeSafetensors, writeSafetensors, writeShardedSafetensors,
  readTensor, type TensorSource, type TensorInfo, type RawTensor, type Selection, type SafetensorsDType, type TensorBytes, type Writable,
} from './safetensors/index.ts';
