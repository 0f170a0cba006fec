// The launch environment: where this process sits in the job, read from the variables torchrun,
// `tessera launch` and Slurm set, so that multi-node runs need no new tooling.
//   RANK, WORLD_SIZE            (else SLURM_PROCID, SLURM_NTASKS)
//   LOCAL_RANK, LOCAL_WORLD_SIZE (else SLURM_LOCALID, SLURM_NTASKS_PER_NODE; optional)
//   MASTER_ADDR, MASTER_PORT    (the host and port where rank 0 serves the rendezvous store)
import { DistributedError } from './errors.ts';

export interface DistEnv {
  rank: number;
  worldSize: number;
  /** This process's index among the ranks of its machine (selects its GPU); undefined when unknown. */
  localRank: number | undefined;
  localWorldSize: number | undefined;
  masterAddr: string;
  masterPort: number;
  /** Which convention supplied RANK and WORLD_SIZE. */
  source: 'env' | 'slurm';
}

type Env = Readonly<Record<string, string | undefined>>;

function fail(message: string): never {
  throw new DistributedError('CONFIG', message);
}

function integer(name: string, raw: string, min: number): number {
  const text = raw.trim();
  if (!/^\d+$/.test(text) || Number(text) < min || !Number.isSafeInteger(Number(text))) {
    fail(`${name} must be an integer >= ${min}, got '${raw}'`);
  }
  return Number(text);
}

function pick(env: Env, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && value !== '') return { name, value };
  }
  return undefined;
}

/** Slurm's SLURM_NTASKS_PER_NODE may read "4" or "4(x2)"; the first count is this node's. */
function slurmPerNode(raw: string): string {
  return raw.split(/[(,]/)[0] ?? raw;
}

export function readDistEnv(env: Env = process.env): DistEnv {
  const rankVar = pick(env, ['RANK', 'SLURM_PROCID']);
  const worldVar = pick(env, ['WORLD_SIZE', 'SLURM_NTASKS']);
  if (!rankVar || !worldVar) {
    const missing = [!rankVar && 'RANK', !worldVar && 'WORLD_SIZE'].filter(Boolean).join(' and ');
    fail(
      `${missing} not set: start the ranks with \`tessera launch\` (or torchrun, or srun under Slurm), ` +
        'or set RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT yourself',
    );
  }
  const rank = integer(rankVar.name, rankVar.value, 0);
  const worldSize = integer(worldVar.name, worldVar.value, 1);
  if (rank >= worldSize) fail(`${rankVar.name}=${rank} is out of range for ${worldVar.name}=${worldSize} (ranks are 0..${worldSize - 1})`);

  const localVar = pick(env, ['LOCAL_RANK', 'SLURM_LOCALID']);
  const localSizeVar = pick(env, ['LOCAL_WORLD_SIZE', 'SLURM_NTASKS_PER_NODE']);
  let localRank = localVar ? integer(localVar.name, localVar.value, 0) : undefined;
  let localWorldSize = localSizeVar ? integer(localSizeVar.name, slurmPerNode(localSizeVar.value), 1) : undefined;
  if (worldSize === 1) {
    localRank ??= 0;
    localWorldSize ??= 1;
  }
  if (localRank !== undefined && localWorldSize !== undefined && localRank >= localWorldSize) {
    fail(`LOCAL_RANK=${localRank} is out of range for LOCAL_WORLD_SIZE=${localWorldSize}`);
  }

  const addr = env.MASTER_ADDR?.trim();
  const portRaw = env.MASTER_PORT;
  if (!addr || !portRaw) {
    const missing = [!addr && 'MASTER_ADDR', !portRaw && 'MASTER_PORT'].filter(Boolean).join(' and ');
    const slurmHint =
      rankVar.name === 'SLURM_PROCID'
        ? ' (under Slurm: export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1) and a free MASTER_PORT)'
        : '';
    fail(`${missing} not set: every rank needs the host and port where rank 0 serves the rendezvous store${slurmHint}`);
  }
  const masterPort = integer('MASTER_PORT', portRaw, 1);
  if (masterPort > 65535) fail(`MASTER_PORT must be a TCP port (1..65535), got ${masterPort}`);
  return {
    rank,
    worldSize,
    localRank,
    localWorldSize,
    masterAddr: addr,
    masterPort,
    source: rankVar.name === 'RANK' ? 'env' : 'slurm',
  };
}

/** Milliseconds from an environment variable given in seconds, or the fallback. */
export function secondsFromEnv(env: Env, name: string, fallbackMs: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallbackMs;
  const s = Number(raw);
  if (!Number.isFinite(s) || s <= 0) fail(`${name} must be a positive number of seconds, got '${raw}'`);
  return s * 1000;
}
