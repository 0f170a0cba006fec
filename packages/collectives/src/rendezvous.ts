// The start of a job, through the store: rank 0 publishes the job's description, every rank claims
// its rank number and checks that it agrees with rank 0, and all wait until every rank is there.
// Each way this can go wrong ends in an error that names the ranks concerned.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { DistEnv } from './env.ts';
import { DistributedError, seconds } from './errors.ts';
import type { TcpStore } from './store/client.ts';
import type { BackendName } from './types.ts';

export interface JobInfo {
  /** Random per job: connections between ranks of other jobs are refused. */
  token: string;
  worldSize: number;
  backend: BackendName;
}

const JOB_KEY = 'tessera/job';
const rankKey = (r: number) => `tessera/rank/${r}`;

export async function rendezvous(store: TcpStore, env: DistEnv, backend: BackendName, timeoutMs: number): Promise<JobInfo> {
  if (env.rank === 0) {
    const job: JobInfo = { token: randomBytes(12).toString('hex'), worldSize: env.worldSize, backend };
    await store.set(JOB_KEY, JSON.stringify(job));
  }
  const me = `pid ${process.pid} on ${os.hostname()}`;
  const claimed = Buffer.from(await store.compareSet(rankKey(env.rank), '', me)).toString('utf8');
  if (claimed !== me) {
    throw new DistributedError('CONFIG', `two processes claim RANK ${env.rank}: this one (${me}) and ${claimed}; every rank needs its own RANK`);
  }
  let job: JobInfo;
  try {
    job = JSON.parse(await store.getText(JOB_KEY, timeoutMs)) as JobInfo;
  } catch (err) {
    throw new DistributedError(
      'TIMEOUT',
      `rank 0 did not describe the job within ${seconds(timeoutMs)} although its store is reachable; is rank 0 stuck?`,
      { cause: err },
    );
  }
  if (job.worldSize !== env.worldSize) {
    throw new DistributedError('CONFIG', `WORLD_SIZE differs between ranks: rank 0 has ${job.worldSize}, rank ${env.rank} has ${env.worldSize}`);
  }
  if (job.backend !== backend) {
    throw new DistributedError('CONFIG', `the backend differs between ranks: rank 0 uses ${job.backend}, rank ${env.rank} uses ${backend} (set TESSERA_BACKEND the same everywhere)`);
  }
  const keys = Array.from({ length: env.worldSize }, (_, r) => rankKey(r));
  try {
    await store.wait(keys, timeoutMs);
  } catch (err) {
    if (!(err instanceof DistributedError) || err.code !== 'TIMEOUT') throw err;
    const present = await store.has(keys);
    const missing = keys.map((_, r) => r).filter((r) => !present[r]);
    throw new DistributedError(
      'TIMEOUT',
      `only ${env.worldSize - missing.length} of ${env.worldSize} ranks joined within ${seconds(timeoutMs)}; missing rank(s) ` +
        `${missing.join(', ')}. Check that every rank was started with the same WORLD_SIZE, MASTER_ADDR and MASTER_PORT`,
      { cause: err },
    );
  }
  return job;
}
