// ParallelState: this rank's process groups on the Megatron-Core grid (grid.ts), created
// collectively, plus the ranks, sizes, source ranks and pipeline neighbours that the tensor-parallel,
// pipeline and optimizer code asks for. An explicit object, passed to whoever needs it.
import type { Distributed, Group } from '../distributed.ts';
import { DistributedError } from '../errors.ts';
import { computeRankGrid, groupContaining, type GridGroups, type ParallelSizes, type RankCoords, type RankGrid } from './grid.ts';

type GroupKind = keyof GridGroups;
// Creation order: the same on every rank, so members of two groups never wait on each other crosswise.
const KINDS: readonly GroupKind[] = ['tensor', 'pipeline', 'data', 'context', 'dataWithContext', 'modelParallel', 'embedding', 'positionEmbedding'];

export class ParallelState {
  readonly grid: RankGrid;
  /** This rank's global rank and grid position. */
  readonly rank: number;
  readonly coords: RankCoords;
  readonly tensor: Group;
  readonly pipeline: Group;
  readonly data: Group;
  readonly context: Group;
  readonly dataWithContext: Group;
  readonly modelParallel: Group;
  /** Only on the first and last pipeline stage (every stage when pp = 1). */
  readonly embedding: Group | undefined;
  /** Only on the first pipeline stage. */
  readonly positionEmbedding: Group | undefined;
  readonly #groups: Group[];

  private constructor(grid: RankGrid, rank: number, groups: Record<GroupKind, Group | undefined>, all: Group[]) {
    this.grid = grid;
    this.rank = rank;
    this.coords = grid.coords(rank);
    const need = (k: GroupKind) => groups[k] as Group;
    this.tensor = need('tensor');
    this.pipeline = need('pipeline');
    this.data = need('data');
    this.context = need('context');
    this.dataWithContext = need('dataWithContext');
    this.modelParallel = need('modelParallel');
    this.embedding = groups.embedding;
    this.positionEmbedding = groups.positionEmbedding;
    this.#groups = all;
  }

  /**
   * Lays the job's ranks out as tensor x context x data x pipeline (Megatron-Core's order) and
   * creates this rank's groups; every rank of the job must call it with the same sizes. Groups with
   * the same members are created once and shared (e.g. data and dataWithContext when cp = 1).
   */
  static async create(dist: Distributed, sizes: ParallelSizes = {}): Promise<ParallelState> {
    let grid: RankGrid;
    try {
      grid = computeRankGrid(dist.worldSize, sizes);
    } catch (err) {
      throw new DistributedError('CONFIG', (err as Error).message, { cause: err });
    }
    const byRanks = new Map<string, Group>();
    const groups = {} as Record<GroupKind, Group | undefined>;
    for (const kind of KINDS) {
      const ranks = groupContaining(grid.groups[kind], dist.rank);
      if (!ranks) continue;
      const key = ranks.join(',');
      let group = byRanks.get(key);
      if (!group) {
        group = (await dist.newGroup(ranks)) as Group;
        byRanks.set(key, group);
      }
      groups[kind] = group;
    }
    return new ParallelState(grid, dist.rank, groups, [...byRanks.values()]);
  }

  get tensorSize(): number {
    return this.grid.tp;
  }
  get pipelineSize(): number {
    return this.grid.pp;
  }
  get dataSize(): number {
    return this.grid.dp;
  }
  get contextSize(): number {
    return this.grid.cp;
  }
  get virtualPipelineSize(): number | undefined {
    return this.grid.vpp;
  }
  get tensorRank(): number {
    return this.coords.tp;
  }
  get pipelineRank(): number {
    return this.coords.pp;
  }
  get dataRank(): number {
    return this.coords.dp;
  }
  get contextRank(): number {
    return this.coords.cp;
  }

  /** Global rank of the first member of this rank's tensor group (where TP-replicated data comes from). */
  get tensorSrcRank(): number {
    return this.tensor.ranks[0] as number;
  }
  /** Global rank of the first member of this rank's data group. */
  get dataSrcRank(): number {
    return this.data.ranks[0] as number;
  }
  /** Global rank of this pipeline's first stage. */
  get pipelineFirstRank(): number {
    return this.pipeline.ranks[0] as number;
  }
  /** Global rank of this pipeline's last stage. */
  get pipelineLastRank(): number {
    return this.pipeline.ranks[this.grid.pp - 1] as number;
  }
  /** Global rank of the next stage (wrapping around, as Megatron does). */
  get pipelineNextRank(): number {
    return this.pipeline.ranks[(this.coords.pp + 1) % this.grid.pp] as number;
  }
  /** Global rank of the previous stage (wrapping around). */
  get pipelinePrevRank(): number {
    return this.pipeline.ranks[(this.coords.pp - 1 + this.grid.pp) % this.grid.pp] as number;
  }

  /**
   * Whether this rank runs the first pipeline stage. With a virtual pipeline, pass the model chunk
   * (virtual rank) being run: only chunk 0 of stage 0 is first.
   */
  isPipelineFirstStage(virtualRank?: number): boolean {
    if (virtualRank !== undefined && this.grid.vpp !== undefined && virtualRank !== 0) return false;
    return this.coords.pp === 0;
  }

  /** Whether this rank runs the last pipeline stage (with a virtual pipeline: its last chunk). */
  isPipelineLastStage(virtualRank?: number): boolean {
    if (virtualRank !== undefined && this.grid.vpp !== undefined && virtualRank !== this.grid.vpp - 1) return false;
    return this.coords.pp === this.grid.pp - 1;
  }

  get isInEmbeddingGroup(): boolean {
    return this.embedding !== undefined;
  }

  get isInPositionEmbeddingGroup(): boolean {
    return this.positionEmbedding !== undefined;
  }

  /** Frees this state's groups (the Distributed object stays usable). */
  destroy(): void {
    for (const g of this.#groups) g.destroy();
  }
}
