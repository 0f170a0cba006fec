// A joined job, as initDistributed() returns it: this rank's place in it, the store, the world
// group, and sub-groups made from rank lists. Passed around explicitly; there is no global state.
import type { Device } from '@tessera/core';
import { CpuProcessGroup } from './cpu/group.ts';
import { CpuMesh } from './cpu/mesh.ts';
import { DistributedError, seconds } from './errors.ts';
import { NcclProcessGroup } from './nccl/group.ts';
import type { JobInfo } from './rendezvous.ts';
import type { TcpStore } from './store/client.ts';
import type { BackendName, ProcessGroup } from './types.ts';

/** The process groups this package creates: the contract plus rank conversion and destroy(). */
export type Group = (CpuProcessGroup | NcclProcessGroup) & ProcessGroup;

export interface GroupOptions {
  /** Backend of the new group (default: the job's). A cpu group works in an nccl job too. */
  backend?: BackendName;
  /** Operation timeout of the new group (default: the job's). */
  timeoutMs?: number;
}

export interface DistributedParts {
  rank: number;
  worldSize: number;
  localRank: number | undefined;
  localWorldSize: number | undefined;
  backend: BackendName;
  device: Device;
  store: TcpStore;
  /** Rank 0's store server (StoreThread). */
  server: { close(): void } | undefined;
  job: JobInfo;
  timeoutMs: number;
  segmentBytes: number;
}

export class Distributed {
  readonly rank: number;
  readonly worldSize: number;
  /** Index among this machine's ranks (picks the GPU); undefined when the launcher did not say. */
  readonly localRank: number | undefined;
  readonly localWorldSize: number | undefined;
  readonly backend: BackendName;
  /** Where this rank's tensors live for the default backend: 'cpu', or its GPU for nccl. */
  readonly device: Device;
  readonly store: TcpStore;
  /** Operation timeout of the groups (ms). */
  readonly timeoutMs: number;
  readonly #parts: DistributedParts;
  readonly #groups: Group[] = [];
  readonly #created = new Map<string, number>();
  #mesh: Promise<CpuMesh> | undefined;
  #world: Group | undefined;
  #destroyed = false;

  /** @internal Use initDistributed(). */
  constructor(parts: DistributedParts) {
    this.#parts = parts;
    this.rank = parts.rank;
    this.worldSize = parts.worldSize;
    this.localRank = parts.localRank;
    this.localWorldSize = parts.localWorldSize;
    this.backend = parts.backend;
    this.device = parts.device;
    this.store = parts.store;
    this.timeoutMs = parts.timeoutMs;
  }

  /** Every rank of the job, in rank order. */
  get world(): Group {
    if (!this.#world) throw new DistributedError('CLOSED', 'the world group is not set up (initDistributed() did not finish)');
    return this.#world;
  }

  /** @internal Creates the world group (initDistributed() calls it once). */
  async _initWorld(): Promise<void> {
    const all = Array.from({ length: this.worldSize }, (_, r) => r);
    this.#world = (await this.#create('world', all, this.backend, this.timeoutMs)) as Group;
  }

  /**
   * A group of the given global ranks (group rank i is ranks[i]). Every listed rank must call it,
   * with the same list, in the same order relative to its other newGroup calls; ranks that are not
   * listed get undefined at once (they may call it or not, as with torch.distributed.new_group).
   */
  async newGroup(ranks: readonly number[], options: GroupOptions = {}): Promise<Group | undefined> {
    this.#checkOpen();
    const list = [...ranks];
    if (list.length === 0) throw new DistributedError('INVALID', 'newGroup: the rank list is empty');
    for (const r of list) {
      if (!Number.isInteger(r) || r < 0 || r >= this.worldSize) {
        throw new DistributedError('INVALID', `newGroup: ${r} is not a rank of this job (ranks are 0..${this.worldSize - 1})`);
      }
    }
    if (new Set(list).size !== list.length) throw new DistributedError('INVALID', `newGroup: rank list [${list.join(', ')}] repeats a rank`);
    const backend = options.backend ?? this.backend;
    const base = `${backend}:${list.join(',')}`;
    const n = this.#created.get(base) ?? 0;
    this.#created.set(base, n + 1);
    if (!list.includes(this.rank)) return undefined;
    return this.#create(`${base}#${n}`, list, backend, options.timeoutMs ?? this.timeoutMs);
  }

  /**
   * Frees every group and the store connection. Rank 0 keeps serving the store to ranks still
   * connected to it, and its process stays alive until they disconnect.
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const g of this.#groups) g.destroy();
    this.#groups.length = 0;
    if (this.#mesh) (await this.#mesh.catch(() => undefined))?.close();
    this.store.close();
    this.#parts.server?.close();
  }

  #checkOpen(): void {
    if (this.#destroyed) throw new DistributedError('CLOSED', `rank ${this.rank} already called destroy()`);
  }

  async #create(key: string, ranks: number[], backend: BackendName, timeoutMs: number): Promise<Group> {
    await this.#join(key, ranks, timeoutMs);
    let group: Group;
    if (backend === 'cpu') {
      const mesh = await this.#cpuMesh();
      await mesh.connect(ranks, timeoutMs);
      group = CpuProcessGroup.create({ key, ranks, globalRank: this.rank, timeoutMs, segmentBytes: this.#parts.segmentBytes });
    } else {
      if (this.device === 'cpu') {
        throw new DistributedError('INVALID', `newGroup: an nccl group needs a GPU, but this job runs on the cpu backend`);
      }
      group = await NcclProcessGroup.create({ key, ranks, globalRank: this.rank, store: this.store, device: this.device, timeoutMs });
    }
    this.#groups.push(group);
    return group;
  }

  // Every member announces itself; a member that never comes is named after the timeout.
  async #join(key: string, ranks: number[], timeoutMs: number): Promise<void> {
    const keys = ranks.map((r) => `tessera/group/${key}/${r}`);
    await this.store.set(`tessera/group/${key}/${this.rank}`, '1');
    try {
      await this.store.wait(keys, timeoutMs);
    } catch (err) {
      if (!(err instanceof DistributedError) || err.code !== 'TIMEOUT') throw err;
      const present = await this.store.has(keys);
      const missing = ranks.filter((_, i) => !present[i]);
      throw new DistributedError(
        'TIMEOUT',
        `newGroup([${ranks.join(', ')}]): rank(s) ${missing.join(', ')} did not join within ${seconds(timeoutMs)}; every listed ` +
          'rank must call newGroup with the same ranks, in the same order relative to its other newGroup calls',
        { cause: err },
      );
    }
  }

  #cpuMesh(): Promise<CpuMesh> {
    this.#mesh ??= CpuMesh.start({
      rank: this.rank,
      worldSize: this.worldSize,
      store: this.store,
      token: this.#parts.job.token,
      advertiseHost: this.store.localAddress,
    });
    return this.#mesh;
  }
}
