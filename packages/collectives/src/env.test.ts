import { describe, expect, it } from 'vitest';
import { readDistEnv, secondsFromEnv } from './env.ts';

const base = { RANK: '1', WORLD_SIZE: '4', LOCAL_RANK: '1', LOCAL_WORLD_SIZE: '2', MASTER_ADDR: 'node0', MASTER_PORT: '29500' };

function errorOf(env: Record<string, string | undefined>): string {
  try {
    readDistEnv(env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('readDistEnv did not throw');
}

describe('readDistEnv', () => {
  it('reads the torchrun variables', () => {
    expect(readDistEnv(base)).toEqual({
      rank: 1, worldSize: 4, localRank: 1, localWorldSize: 2, masterAddr: 'node0', masterPort: 29500, source: 'env',
    });
  });

  it('falls back to Slurm', () => {
    const env = { SLURM_PROCID: '5', SLURM_NTASKS: '8', SLURM_LOCALID: '1', SLURM_NTASKS_PER_NODE: '4(x2)', MASTER_ADDR: 'h', MASTER_PORT: '1234' };
    expect(readDistEnv(env)).toMatchObject({ rank: 5, worldSize: 8, localRank: 1, localWorldSize: 4, source: 'slurm' });
  });

  it('prefers RANK over SLURM_PROCID', () => {
    expect(readDistEnv({ ...base, SLURM_PROCID: '3', SLURM_NTASKS: '9' }).rank).toBe(1);
  });

  it('a single process needs no local rank', () => {
    expect(readDistEnv({ RANK: '0', WORLD_SIZE: '1', MASTER_ADDR: 'a', MASTER_PORT: '1' })).toMatchObject({ localRank: 0, localWorldSize: 1 });
  });

  it('names what is missing or wrong', () => {
    expect(errorOf({ ...base, RANK: undefined })).toMatch(/^RANK not set: start the ranks with `tessera launch`/);
    expect(errorOf({ ...base, RANK: undefined, WORLD_SIZE: undefined })).toMatch(/^RANK and WORLD_SIZE not set/);
    expect(errorOf({ ...base, RANK: 'one' })).toBe("RANK must be an integer >= 0, got 'one'");
    expect(errorOf({ ...base, WORLD_SIZE: '0' })).toBe("WORLD_SIZE must be an integer >= 1, got '0'");
    expect(errorOf({ ...base, RANK: '4' })).toBe('RANK=4 is out of range for WORLD_SIZE=4 (ranks are 0..3)');
    expect(errorOf({ ...base, LOCAL_RANK: '2' })).toBe('LOCAL_RANK=2 is out of range for LOCAL_WORLD_SIZE=2');
    expect(errorOf({ ...base, MASTER_ADDR: '' })).toMatch(/^MASTER_ADDR not set/);
    expect(errorOf({ ...base, MASTER_PORT: undefined })).toMatch(/^MASTER_PORT not set/);
    expect(errorOf({ ...base, MASTER_PORT: '70000' })).toBe('MASTER_PORT must be a TCP port (1..65535), got 70000');
    expect(errorOf({ SLURM_PROCID: '0', SLURM_NTASKS: '2', MASTER_PORT: '1' })).toMatch(/scontrol show hostnames/);
  });

  it('reads timeouts in seconds', () => {
    expect(secondsFromEnv({ T: '2.5' }, 'T', 1)).toBe(2500);
    expect(secondsFromEnv({}, 'T', 7)).toBe(7);
    expect(() => secondsFromEnv({ T: 'soon' }, 'T', 1)).toThrow("T must be a positive number of seconds, got 'soon'");
  });
});
