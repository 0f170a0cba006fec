// What a Transformers config.json maps to: the GPT family's own config (../gpt/config.ts), the
// family whose name map reads its weights, and the keys nothing needed.
import type { GptConfig } from '../gpt/config.ts';
import type { HfFamily } from './names/index.ts';

export interface HfModelConfig {
  family: HfFamily;
  config: GptConfig;
  /** config.json keys that were present but not read (generic bookkeeping is not listed). */
  ignoredKeys: string[];
}

export interface HfConfigOptions {
  /** The sequence length the model will run at (default: max_position_embeddings). Mistral's sliding window is checked against it. */
  seqLength?: number;
}
