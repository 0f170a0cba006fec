// The cpu backend's connections: one socket per pair of ranks, shared by every cpu process group
// of the job and owned by the native side. The mesh starts with the job's first cpu group: each
// rank listens (TCP on the address it reaches the store from, plus a Unix-domain socket on Linux)
// and publishes that address in the store. Creating a group connects the pairs of its members
// that are not connected yet: the addresses are read from the store without blocking the event
// loop, then one blocking native call dials the lower ranks and accepts the higher ones.
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { DistributedError, seconds } from '../errors.ts';
import type { TcpStore } from '../store/client.ts';
import { callNative, type CpuCommBinding, cpuCommBinding } from './native.ts';

export interface MeshOptions {
  rank: number;
  worldSize: number;
  store: TcpStore;
  /** Shared by the job's ranks (set by rank 0): connections from other jobs are refused. */
  token: string;
  /** The address other machines reach this one on (the local end of the store connection). */
  advertiseHost: string;
}

interface PeerAddress {
  hostname: string;
  host: string;
  port: number;
  /** Abstract Unix-domain socket name; '' when there is none. */
  unix: string;
}

const addressKey = (rank: number) => `tessera/cpu/addr/${rank}`;

/** TESSERA_CPU_TRANSPORT=tcp: TCP between ranks of one host too. */
function unixSocketsAllowed(): boolean {
  return process.platform === 'linux' && process.env.TESSERA_CPU_TRANSPORT !== 'tcp';
}

/** An IPv4 address seen through an IPv6 socket ('::ffff:10.0.0.1') is used as plain IPv4. */
function plainHost(host: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return m ? (m[1] as string) : host;
}

export class CpuMesh {
  readonly rank: number;
  readonly #nb: CpuCommBinding;
  readonly #store: TcpStore;
  readonly #addresses = new Map<number, PeerAddress>();
  #closed = false;

  private constructor(rank: number, nb: CpuCommBinding, store: TcpStore) {
    this.rank = rank;
    this.#nb = nb;
    this.#store = store;
  }

  /** Listens and publishes this rank's address. */
  static async start(o: MeshOptions): Promise<CpuMesh> {
    const nb = cpuCommBinding();
    const host = plainHost(o.advertiseHost);
    const name = unixSocketsAllowed() ? `tessera-${o.token}-${o.rank}-${randomBytes(4).toString('hex')}` : '';
    const { port, unixName } = callNative(() => nb.cpuCommListen(o.rank, o.worldSize, o.token, host, name));
    const mesh = new CpuMesh(o.rank, nb, o.store);
    try {
      const address: PeerAddress = { hostname: os.hostname(), host, port, unix: unixName };
      await o.store.set(addressKey(o.rank), JSON.stringify(address));
    } catch (err) {
      mesh.close();
      throw err;
    }
    return mesh;
  }

  /** Connects this rank to every member of `ranks` it is not connected to yet (all members call this). */
  async connect(ranks: readonly number[], timeoutMs: number): Promise<void> {
    const peers = await Promise.all(
      ranks
        .filter((r) => r !== this.rank)
        .map(async (r): Promise<readonly [number, string, number, string]> => {
          if (r > this.rank) return [r, '', 0, '']; // it dials this rank
          const a = await this.#address(r, timeoutMs);
          const local = a.unix !== '' && a.hostname === os.hostname() && unixSocketsAllowed();
          return [r, a.host, a.port, local ? a.unix : ''];
        }),
    );
    callNative(() => this.#nb.cpuCommConnect(peers, timeoutMs));
  }

  /** Says bye to every peer and closes the connections (every cpu group of the job ends). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    callNative(() => this.#nb.cpuCommClose());
  }

  async #address(rank: number, timeoutMs: number): Promise<PeerAddress> {
    let a = this.#addresses.get(rank);
    if (a) return a;
    try {
      a = JSON.parse(await this.#store.getText(addressKey(rank), timeoutMs)) as PeerAddress;
    } catch (err) {
      throw new DistributedError(
        'UNREACHABLE',
        `rank ${this.rank} cannot find rank ${rank}'s cpu backend address in the store within ${seconds(timeoutMs)}: is rank ${rank} ` +
          'running, and did it create the same process group?',
        { cause: err },
      );
    }
    this.#addresses.set(rank, a);
    return a;
  }
}
