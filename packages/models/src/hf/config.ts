// Building Tessera GPT options from a Transformers config.json (gpt2, llama, mistral).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gpt2Config } from './config-gpt2.ts';
import { llamaConfig } from './config-llama.ts';
import { ConfigReader, HfConfigError, type HfJson } from './config-read.ts';
import type { HfConfigOptions, HfModelConfig } from './config-types.ts';

// PretrainedConfig's generic keys: tokens, labels, output switches, bookkeeping.
const GENERIC = [
  'architectures', 'model_type', 'transformers_version', '_name_or_path', 'torch_dtype', 'dtype', 'use_cache',
  'bos_token_id', 'eos_token_id', 'pad_token_id', 'sep_token_id', 'decoder_start_token_id', 'tokenizer_class',
  'task_specific_params', 'id2label', 'label2id', 'num_labels', 'problem_type', 'finetuning_task', 'prefix',
  'return_dict', 'output_attentions', 'output_hidden_states', 'torchscript', 'chunk_size_feed_forward',
  'is_encoder_decoder', 'is_decoder', 'initializer_range',
];

/** Maps a parsed config.json to a Tessera GptConfig, refusing what the family cannot express. */
export function hfModelConfig(json: HfJson, opts: HfConfigOptions = {}): HfModelConfig {
  const r = new ConfigReader(json);
  const type = r.raw('model_type');
  r.require('is_encoder_decoder', [false], 'the GPT family is decoder-only');
  let result: Omit<HfModelConfig, 'ignoredKeys'>;
  switch (type) {
    case 'gpt2':
      result = { family: 'gpt2', config: gpt2Config(r) };
      break;
    case 'llama':
    case 'mistral':
      result = { family: type, config: llamaConfig(r, type, opts) };
      break;
    default:
      throw new HfConfigError('model_type', type, "Tessera's GPT family loads 'gpt2', 'llama' and 'mistral' configs");
  }
  r.accept(...GENERIC);
  return { ...result, ignoredKeys: r.unread() };
}

/** Reads config.json from a checkpoint directory (or the file itself) and maps it. */
export function readHfConfig(path: string, opts: HfConfigOptions = {}): HfModelConfig {
  if (!existsSync(path)) throw new Error(`${path}: no such file or directory (expected a checkpoint directory holding config.json, or the file itself)`);
  const file = statSync(path).isDirectory() ? join(path, 'config.json') : path;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: cannot read the model config: ${(e as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: the model config must be a JSON object`);
  return hfModelConfig(json as HfJson, opts);
}
