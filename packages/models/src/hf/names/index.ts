// Name maps by family: Mistral's checkpoints use Llama's names.
import { GPT2_NAMES } from './gpt2.ts';
import { LLAMA_NAMES } from './llama.ts';
import type { NameMap } from './types.ts';

export type HfFamily = 'gpt2' | 'llama' | 'mistral';

export const NAME_MAPS: Readonly<Record<HfFamily, NameMap>> = { gpt2: GPT2_NAMES, llama: LLAMA_NAMES, mistral: LLAMA_NAMES };

export { GPT2_NAMES, LLAMA_NAMES };
export type { NameMap, NameMapEntry, Split } from './types.ts';
