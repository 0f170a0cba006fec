// Cases of the cpu backend's native protocol, each run by every rank of a small world (the
// 'protocol' scenario of worker.ts): what a rank returns, or the error it gets, is its report.
import { setTimeout as sleep } from 'node:timers/promises';
import { tensor, zeros } from '@tessera/core';
import type { Distributed, DistributedError, Group } from '../src/index.ts';

type ProtocolCase = (dist: Distributed, rank: number) => Promise<unknown>;

const errorCode = (run: () => void): string => {
  try {
    run();
    return 'ok';
  } catch (err) {
    return (err as DistributedError).code;
  }
};

export const protocolCases: Record<string, ProtocolCase> = {
  /** World of 3: ranks 0 and 1 call a sub-group's allReduce and the world's in opposite orders. */
  async 'group-order'(dist, rank) {
    const pair = (await dist.newGroup([0, 1])) as Group;
    const t = () => tensor([1, 2, 3, 4]);
    if (rank === 0) {
      pair.allReduce(t());
      dist.world.allReduce(t());
    } else if (rank === 1) {
      dist.world.allReduce(t());
      pair.allReduce(t());
    } else {
      dist.world.allReduce(t());
    }
  },

  /** A recv whose dtype differs from its send; the sender hears of it at its next call. */
  async 'p2p-dtype'(dist, rank) {
    if (rank === 0) {
      dist.world.send(tensor([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 1);
      await dist.world.barrier();
    } else {
      dist.world.recv(zeros([10], { dtype: 'bf16' }), 0);
    }
  },

  /** A send that meets a collective. */
  async 'p2p-vs-collective'(dist, rank) {
    if (rank === 0) {
      dist.world.send(tensor([1, 2, 3, 4]), 1);
      await dist.world.barrier();
    } else {
      dist.world.allReduce(tensor([1, 2, 3, 4]));
    }
  },

  /** Rank 1 shuts down on purpose while rank 0 starts an allReduce. */
  async bye(dist, rank) {
    await dist.world.barrier();
    if (rank === 1) {
      await dist.destroy();
      return 'destroyed';
    }
    dist.world.allReduce(tensor([1, 2]));
  },

  /** A failure in one group leaves the connections it shares with the world usable. */
  async survive(dist, rank) {
    const pair = (await dist.newGroup([0, 1])) as Group;
    const first = errorCode(() => pair.allReduce(zeros([10], { dtype: rank === 1 ? 'bf16' : 'f32' })));
    const t = tensor([rank + 1, 10]);
    dist.world.allReduce(t);
    let again = '';
    try {
      pair.allReduce(zeros([10]));
    } catch (err) {
      again = (err as Error).message;
    }
    await dist.world.barrier();
    return { first, world: t.toArray(), again };
  },

  /** A send far larger than the socket buffers that rank 1 never receives. */
  async 'send-timeout'(dist, rank) {
    if (rank === 1) {
      await sleep(1000);
      return 'idle';
    }
    dist.world.send(zeros([16 << 20]), 1);
  },
};
