// The front door: a GPTModel built from a Hugging Face checkpoint directory (config.json plus
// safetensors), on any tensor-parallel rank, or Hugging Face weights loaded into an existing one.
import type { GptConfig } from '../gpt/config.ts';
import { GPTModel, type GptModelOptions } from '../gpt/model.ts';
import type { TensorSource } from '../safetensors/source.ts';
import { readHfConfig } from './config.ts';
import type { HfConfigOptions } from './config-types.ts';
import { type HfLoadReport, loadHfWeights } from './load.ts';
import type { HfFamily } from './names/index.ts';

/** Fills `model` (its config and TP rank give the layout) from a checkpoint of `family`. */
export function loadHfCheckpoint(model: GPTModel, checkpoint: string | TensorSource, family: HfFamily, opts: { strict?: boolean } = {}): HfLoadReport {
  const c = model.config;
  return loadHfWeights(model, checkpoint, {
    family,
    dims: c,
    gated: c.swiglu,
    tied: !c.untieEmbeddingsAndOutputWeights,
    tp: { rank: model.tp.rank, size: model.tp.size },
    strict: opts.strict,
  });
}

export interface GptFromHfOptions extends GptModelOptions, HfConfigOptions {
  /** Changes to the mapped config that do not touch the weights' shapes (dropout, makeVocabSizeDivisibleBy, ...). */
  overrides?: Partial<GptConfig>;
  strict?: boolean;
}

export interface GptFromHf {
  model: GPTModel;
  family: HfFamily;
  config: GptConfig;
  /** config.json keys that were present but not read. */
  ignoredKeys: string[];
  report: HfLoadReport;
}

/** Builds the model config.json describes and loads its weights, this rank's slices only. */
export function gptFromHf(dir: string, opts: GptFromHfOptions = {}): GptFromHf {
  const { overrides, strict, seqLength, ...modelOptions } = opts;
  const hf = readHfConfig(dir, { seqLength });
  const config = { ...hf.config, ...overrides };
  const model = new GPTModel(config, modelOptions);
  try {
    const report = loadHfCheckpoint(model, dir, hf.family, { strict });
    return { model, family: hf.family, config, ignoredKeys: hf.ignoredKeys, report };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
