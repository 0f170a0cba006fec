// Loads a Hugging Face safetensors checkpoint into a Tessera GPT model on one tensor-parallel
// rank: every parameter is planned and every checkpoint tensor checked (names, shapes, dtypes)
// before any data is read, then each parameter receives exactly this rank's slice, read from the
// mapped files without materialising the rest.
import { type Module, noGrad, fromBytes, type Parameter, scope } from '@tessera/core';
import { openSafetensors } from '../safetensors/checkpoint.ts';
import { tesseraDType } from '../safetensors/dtypes.ts';
import type { TensorSource } from '../safetensors/source.ts';
import { assemble } from './assemble.ts';
import type { GptDims, TpRank } from './layout.ts';
import { type HfFamily, NAME_MAPS } from './names/index.ts';
import { type PlanContext, planFor, type ReadPlan } from './plan.ts';

export interface HfLoadOptions {
  family: HfFamily;
  dims: GptDims;
  /** SwiGLU: linear_fc1 holds [gate; up]. */
  gated: boolean;
  /** The output layer shares the word embedding. */
  tied: boolean;
  /** This process's tensor-parallel rank and size (default: rank 0 of 1). */
  tp?: TpRank;
  /** Refuse checkpoint tensors that no parameter reads (default true). */
  strict?: boolean;
}

export interface HfLoadReport {
  /** Tessera parameters filled. */
  loaded: string[];
  /** Checkpoint tensors deliberately not read (buffers, a tied output alias, others' layers). */
  skipped: string[];
  /** Tensor bytes this rank read, and the checkpoint's total size. */
  bytesRead: number;
  byteLength: number;
}

/** Everything wrong with a checkpoint/model pair, found before anything was read. */
export class HfCheckpointError extends Error {
  readonly checkpoint: string;
  readonly missing: string[];
  readonly unexpected: string[];
  readonly misshaped: string[];
  readonly other: string[];
  constructor(checkpoint: string, missing: string[], unexpected: string[], misshaped: string[], other: string[]) {
    const parts: string[] = [];
    const list = (title: string, items: string[], fix: string) => {
      if (items.length) parts.push(`${title} (${items.length}):\n  - ${items.slice(0, 20).join('\n  - ')}${items.length > 20 ? `\n  - … ${items.length - 20} more` : ''}\n  ${fix}`);
    };
    list('missing checkpoint tensors', missing, 'Is the config (biases, tied embeddings, number of layers) the one this checkpoint was saved with?');
    list('unexpected checkpoint tensors, which no parameter of the model reads', unexpected, 'Build the model from the checkpoint\'s config.json, or pass { strict: false } to skip them.');
    list('shape mismatches', misshaped, 'The model and the checkpoint disagree on the sizes; build the model from the same config.');
    list('other problems', other, '');
    super(`cannot load ${checkpoint}:\n${parts.join('\n')}`);
    this.name = 'HfCheckpointError';
    this.checkpoint = checkpoint;
    this.missing = missing;
    this.unexpected = unexpected;
    this.misshaped = misshaped;
    this.other = other;
  }
}

const shapeText = (s: readonly number[]) => `[${s.join(', ')}]`;
const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

function ignorePatterns(names: readonly string[], prefix: string): RegExp[] {
  return names.map((n) => new RegExp(`^${(prefix + n).replaceAll('.', '\\.').replace('{i}', '\\d+')}$`));
}

export function loadHfWeights(model: Module, checkpoint: string | TensorSource, opts: HfLoadOptions): HfLoadReport {
  const source = typeof checkpoint === 'string' ? openSafetensors(checkpoint) : checkpoint;
  const map = NAME_MAPS[opts.family];
  const tp = opts.tp ?? { rank: 0, size: 1 };
  const before = source.bytesRead;
  const prefix = map.prefixes.find((p) => source.has(p + map.probe));
  if (prefix === undefined) {
    const probes = map.prefixes.map((p) => p + map.probe).join(' or ');
    throw new HfCheckpointError(source.path, [], [], [], [`this is not a ${map.family} checkpoint: it has no ${probes} (its tensors include ${source.names().slice(0, 5).join(', ')})`]);
  }
  const ctx: PlanContext = { map, dims: opts.dims, gated: opts.gated, tied: opts.tied, tp, prefix };

  const missing: string[] = [];
  const misshaped: string[] = [];
  const other: string[] = [];
  const plans: [ReadPlan, Parameter][] = [];
  const used = new Set<string>();
  for (const [name, param] of model.namedParameters()) {
    let plan: ReadPlan | string;
    try {
      plan = planFor(ctx, name);
    } catch (e) {
      other.push(`${name}: ${(e as Error).message}`);
      continue;
    }
    if (typeof plan === 'string') {
      other.push(`the model's parameter '${name}' has no Hugging Face counterpart: ${plan}`);
      continue;
    }
    if (!sameShape(param.shape, plan.shape)) {
      misshaped.push(`the model's '${name}' is ${shapeText(param.shape)}, but the config gives ${shapeText(plan.shape)} on tensor-parallel rank ${tp.rank} of ${tp.size}`);
    }
    const metaDim = param.meta.partitionDim;
    if (param.meta.tensorParallel && typeof metaDim === 'number' && tp.size > 1 && metaDim !== plan.partitionDim) {
      other.push(`the model partitions '${name}' along dimension ${metaDim}, the ${map.family} map along ${plan.partitionDim ?? '(none: replicated)'}`);
    }
    for (const [src, shape] of plan.sources) {
      used.add(src);
      if (!source.has(src)) {
        missing.push(`${src} (for ${name})`);
        continue;
      }
      const info = source.info(src);
      if (!sameShape(info.shape, shape)) misshaped.push(`${src} is ${shapeText(info.shape)} in the checkpoint; ${name} needs ${shapeText(shape)}`);
      if (!tesseraDType(info.dtype)) other.push(`${src} is ${info.dtype}, which Tessera cannot load as a parameter`);
    }
    plans.push([plan, param]);
  }

  const skip = ignorePatterns(map.ignore, prefix);
  if (opts.tied) skip.push(new RegExp(`^${map.tiedOutputAlias.replaceAll('.', '\\.')}$`));
  const skipped: string[] = [];
  const unexpected: string[] = [];
  for (const n of source.names()) {
    if (used.has(n)) continue;
    if (skip.some((re) => re.test(n))) skipped.push(n);
    else unexpected.push(n);
  }
  if (opts.strict === false) skipped.push(...unexpected.splice(0));
  if (missing.length || unexpected.length || misshaped.length || other.length) {
    throw new HfCheckpointError(source.path, missing, unexpected, misshaped, other);
  }

  noGrad(() => {
    for (const [plan, param] of plans) {
      scope(() => {
        const raw = assemble(source, plan);
        const t = fromBytes(raw.bytes, raw.shape, tesseraDType(raw.dtype)!, param.device);
        param.copy_(plan.transposed ? t.transpose(0, 1) : t);
      });
    }
  });
  return { loaded: plans.map(([p]) => p.tessera), skipped, bytesRead: source.bytesRead - before, byteLength: source.byteLength };
}
