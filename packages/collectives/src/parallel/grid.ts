// The rank grid of Megatron-Core (RankGenerator with order "tp-cp-ep-dp-pp", expert parallelism 1):
// global rank = tp + TP * (cp + CP * (dp + DP * pp)), so tensor-parallel ranks are adjacent and
// pipeline stages are furthest apart. A group of some dimensions holds the ranks that differ only
// in those dimensions, listed with the first dimension of the order varying fastest. Pure: no
// processes needed, so it can be checked by hand.

export interface ParallelSizes {
  /** Tensor-parallel size (default 1). */
  tensor?: number;
  /** Pipeline-parallel size (default 1). */
  pipeline?: number;
  /** Context-parallel size (default 1). */
  context?: number;
  /** Data-parallel size (default: what the world size leaves). */
  data?: number;
  /** Model chunks per pipeline stage for the interleaved schedule (default: none). */
  virtualPipeline?: number;
}

/** A rank's position: index along each dimension. */
export interface RankCoords {
  tp: number;
  cp: number;
  dp: number;
  pp: number;
}

export type Dim = keyof RankCoords;
/** Megatron-Core's order, fastest-varying first. */
export const DIM_ORDER: readonly Dim[] = ['tp', 'cp', 'dp', 'pp'];

export interface GridGroups {
  tensor: number[][];
  pipeline: number[][];
  data: number[][];
  context: number[][];
  /** Data and context parallel together: where gradients are reduced when cp > 1. */
  dataWithContext: number[][];
  /** Tensor and pipeline parallel together (Megatron's model-parallel group). */
  modelParallel: number[][];
  /** First and last stage of each pipeline (tied word embeddings); the whole pipeline when pp = 1. */
  embedding: number[][];
  /** First stage of each pipeline (position embeddings). */
  positionEmbedding: number[][];
}

export interface RankGrid {
  worldSize: number;
  tp: number;
  cp: number;
  dp: number;
  pp: number;
  /** Virtual pipeline size; undefined without interleaving. */
  vpp: number | undefined;
  groups: GridGroups;
  coords(rank: number): RankCoords;
  rankAt(coords: RankCoords): number;
}

function fail(message: string): never {
  throw new RangeError(`parallel state: ${message}`);
}

function positive(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(`the ${name} size must be a positive integer, got ${String(v)}`);
  return v;
}

/** The ranks of every group spanning `dims` (mixed radix; the earlier a dimension in DIM_ORDER, the faster it varies). */
export function orthogonalGroups(sizes: RankCoords, dims: readonly Dim[]): number[][] {
  const stride: RankCoords = { tp: 1, cp: sizes.tp, dp: sizes.tp * sizes.cp, pp: sizes.tp * sizes.cp * sizes.dp };
  const inside = DIM_ORDER.filter((d) => dims.includes(d));
  const outside = DIM_ORDER.filter((d) => !dims.includes(d));
  const count = (ds: Dim[]) => ds.reduce((p, d) => p * sizes[d], 1);
  // Sum of stride * digit over `ds`, where `index` is read as digits of sizes ds[0], ds[1], ...
  const place = (index: number, ds: Dim[]) => {
    let rank = 0;
    let rest = index;
    for (const d of ds) {
      rank += (rest % sizes[d]) * stride[d];
      rest = Math.floor(rest / sizes[d]);
    }
    return rank;
  };
  const groups: number[][] = [];
  for (let g = 0; g < count(outside); g++) {
    const base = place(g, outside);
    groups.push(Array.from({ length: count(inside) }, (_, i) => base + place(i, inside)));
  }
  return groups;
}

export function computeRankGrid(worldSize: number, sizes: ParallelSizes = {}): RankGrid {
  if (!Number.isInteger(worldSize) || worldSize < 1) fail(`the world size must be a positive integer, got ${worldSize}`);
  const tp = positive('tensor', sizes.tensor ?? 1);
  const pp = positive('pipeline', sizes.pipeline ?? 1);
  const cp = positive('context', sizes.context ?? 1);
  const modelAndContext = tp * pp * cp;
  if (worldSize % modelAndContext !== 0) {
    fail(`the world size ${worldSize} is not divisible by tensor (${tp}) x pipeline (${pp}) x context (${cp}) = ${modelAndContext}`);
  }
  const dp = sizes.data === undefined ? worldSize / modelAndContext : positive('data', sizes.data);
  if (tp * cp * dp * pp !== worldSize) {
    fail(`tensor (${tp}) x context (${cp}) x data (${dp}) x pipeline (${pp}) = ${tp * cp * dp * pp} does not equal the world size ${worldSize}`);
  }
  let vpp: number | undefined;
  if (sizes.virtualPipeline !== undefined) {
    vpp = positive('virtual pipeline', sizes.virtualPipeline);
    if (vpp > 1 && pp < 2) fail(`a virtual pipeline size of ${vpp} needs a pipeline size of at least 2, got ${pp}`);
  }
  const dims: RankCoords = { tp, cp, dp, pp };
  const pipeline = orthogonalGroups(dims, ['pp']);
  const groups: GridGroups = {
    tensor: orthogonalGroups(dims, ['tp']),
    pipeline,
    data: orthogonalGroups(dims, ['dp']),
    context: orthogonalGroups(dims, ['cp']),
    dataWithContext: orthogonalGroups(dims, ['cp', 'dp']),
    modelParallel: orthogonalGroups(dims, ['tp', 'pp']),
    embedding: pipeline.map((p) => (p.length > 1 ? [p[0] as number, p[p.length - 1] as number] : [...p])),
    positionEmbedding: pipeline.map((p) => [p[0] as number]),
  };
  return {
    worldSize,
    tp,
    cp,
    dp,
    pp,
    vpp,
    groups,
    coords(rank: number): RankCoords {
      if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize) fail(`rank ${rank} is outside the world of ${worldSize}`);
      return {
        tp: rank % tp,
        cp: Math.floor(rank / tp) % cp,
        dp: Math.floor(rank / (tp * cp)) % dp,
        pp: Math.floor(rank / (tp * cp * dp)),
      };
    },
    rankAt(c: RankCoords): number {
      for (const d of DIM_ORDER) {
        if (!Number.isInteger(c[d]) || c[d] < 0 || c[d] >= dims[d]) fail(`${d} index ${c[d]} is outside 0..${dims[d] - 1}`);
      }
      return c.tp + tp * (c.cp + cp * (c.dp + dp * c.pp));
    },
  };
}

/** The group of `groups` that holds `rank`, if any. */
export function groupContaining(groups: readonly number[][], rank: number): number[] | undefined {
  return groups.find((g) => g.includes(rank));
}
