// initDistributed(): join the job described by the environment (see env.ts). Rank 0 serves the
// rendezvous store on MASTER_PORT; every rank connects to it, the ranks meet, and the world group
// is created on the chosen backend.
import { comm, cudaDeviceCount, type Device, type DeviceLike, parseDevice } from '@tessera/core';
import { Distributed } from './distributed.ts';
import { type DistEnv, readDistEnv, secondsFromEnv } from './env.ts';
import { DistributedError } from './errors.ts';
import { rendezvous } from './rendezvous.ts';
import { TcpStore } from './store/client.ts';
import { StoreThread } from './store/thread.ts';
import type { BackendName } from './types.ts';

export interface InitOptions {
  /** 'nccl' or 'cpu'; default TESSERA_BACKEND, else nccl when this build and machine can, else cpu. */
  backend?: BackendName;
  /** Timeout of every collective and p2p operation (default TESSERA_DIST_TIMEOUT seconds, else 600 s). */
  timeoutMs?: number;
  /** How long ranks wait for each other at startup (default TESSERA_RDZV_TIMEOUT seconds, else 300 s). */
  rendezvousTimeoutMs?: number;
  /** The nccl backend's GPU (default cuda:LOCAL_RANK). */
  device?: DeviceLike;
  /** Variables to read instead of process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

const DEFAULT_OP_TIMEOUT_MS = 600_000;
const DEFAULT_RDZV_TIMEOUT_MS = 300_000;
const DEFAULT_SEGMENT_BYTES = 1 << 20;

function chooseBackend(requested: string | undefined): BackendName {
  if (requested === undefined || requested === '') return comm.ncclAvailable() ? 'nccl' : 'cpu';
  if (requested !== 'cpu' && requested !== 'nccl') {
    throw new DistributedError('CONFIG', `unknown backend '${requested}' (TESSERA_BACKEND or the backend option): use 'nccl' or 'cpu'`);
  }
  if (requested === 'nccl') {
    try {
      comm.ncclBinding();
    } catch (err) {
      throw new DistributedError('CONFIG', (err as Error).message, { cause: err });
    }
    if (!comm.ncclAvailable()) throw new DistributedError('CONFIG', 'the nccl backend needs a CUDA GPU, and none is visible (check CUDA_VISIBLE_DEVICES)');
  }
  return requested;
}

function chooseDevice(backend: BackendName, env: DistEnv, requested: DeviceLike | undefined): Device {
  if (backend === 'cpu') return 'cpu';
  if (requested !== undefined) return parseDevice(requested);
  if (env.localRank === undefined) {
    throw new DistributedError(
      'CONFIG',
      'LOCAL_RANK is not set: the nccl backend needs it to pick this rank\'s GPU (tessera launch and torchrun set it), or pass the device option',
    );
  }
  // A process that sees a single GPU (Slurm's per-task GPU binding, or CUDA_VISIBLE_DEVICES set
  // per rank) uses it whatever its local rank.
  if (cudaDeviceCount() === 1) return 'cuda:0';
  try {
    return parseDevice(`cuda:${env.localRank}`);
  } catch (err) {
    throw new DistributedError(
      'CONFIG',
      `LOCAL_RANK=${env.localRank} has no GPU: ${(err as Error).message}. Start at most one rank per visible GPU on each machine`,
      { cause: err },
    );
  }
}

function segmentBytes(env: Readonly<Record<string, string | undefined>>): number {
  const raw = env.TESSERA_CPU_SEGMENT_BYTES;
  if (raw === undefined || raw === '') return DEFAULT_SEGMENT_BYTES;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 8 || n > 2 ** 31) {
    throw new DistributedError('CONFIG', `TESSERA_CPU_SEGMENT_BYTES must be an integer from 8 to 2^31, got '${raw}'`);
  }
  return n;
}

export async function initDistributed(options: InitOptions = {}): Promise<Distributed> {
  const vars = options.env ?? process.env;
  const env = readDistEnv(vars);
  const backend = chooseBackend(options.backend ?? vars.TESSERA_BACKEND);
  const device = chooseDevice(backend, env, options.device);
  const timeoutMs = options.timeoutMs ?? secondsFromEnv(vars, 'TESSERA_DIST_TIMEOUT', DEFAULT_OP_TIMEOUT_MS);
  const rdzvMs = options.rendezvousTimeoutMs ?? secondsFromEnv(vars, 'TESSERA_RDZV_TIMEOUT', DEFAULT_RDZV_TIMEOUT_MS);
  const seg = segmentBytes(vars);

  const server = env.rank === 0 ? await StoreThread.listen(env.masterPort) : undefined;
  let store: TcpStore | undefined;
  try {
    store = await TcpStore.connect(env.masterAddr, env.masterPort, { timeoutMs: rdzvMs });
    const job = await rendezvous(store, env, backend, rdzvMs);
    const dist = new Distributed({
      rank: env.rank,
      worldSize: env.worldSize,
      localRank: env.localRank,
      localWorldSize: env.localWorldSize,
      backend,
      device,
      store,
      server,
      job,
      timeoutMs,
      segmentBytes: seg,
    });
    try {
      await dist._initWorld();
    } catch (err) {
      await dist.destroy();
      throw err;
    }
    return dist;
  } catch (err) {
    store?.close();
    server?.destroy();
    throw err;
  }
}

