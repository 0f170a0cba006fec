// @tessera/collectives: how ranks find each other (the rendezvous store, initDistributed), talk
// (process groups on the nccl and cpu backends), and lay out tensor, context, data and pipeline
// parallelism (ParallelState, Megatron-Core's rank grid).
export type { BackendName, P2POp, ProcessGroup, ReduceOp, Work } from './types.ts';
export { DistributedError, type DistributedErrorCode } from './errors.ts';
export { type DistEnv, readDistEnv } from './env.ts';
export { initDistributed, type InitOptions } from './init.ts';
export { Distributed, type Group, type GroupOptions } from './distributed.ts';
export { TcpStore, type StoreOptions } from './store/client.ts';
export { StoreServer } from './store/server.ts';
export { CpuProcessGroup } from './cpu/group.ts';
export { NcclProcessGroup } from './nccl/group.ts';
export {
  computeRankGrid, DIM_ORDER, type Dim, type GridGroups, groupContaining, orthogonalGroups, type ParallelSizes, type RankCoords,
  type RankGrid,
} from './parallel/grid.ts';
export { ParallelState } from './parallel/state.ts';
