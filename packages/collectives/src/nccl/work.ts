// Work handles of the nccl backend. The collective runs on its communicator's stream; wait() and
// waitSync() make the device's current (compute) stream wait for it without blocking the host,
// then let go of the tensors' memory: frees after that point are ordered after the collective on
// the compute stream, so NCCL can never read memory that new work has reused. The group polls its
// unfinished works (on every new operation) and destroys their events once the GPU has passed them.
import { type Event, Stream, type Tensor } from '@tessera/core';
import type { Work } from '../types.ts';

export interface EventWorkOwner {
  /** Throws if the communicator reported an asynchronous error (a peer died, a network failed). */
  checkHealth(): void;
}

export class EventWork implements Work {
  readonly #event: Event;
  readonly #owner: EventWorkOwner;
  #held: Tensor[];
  #done = false;
  #waited = false;

  /** `held`: views of the operation's tensors, disposed once their memory may be reused. */
  constructor(event: Event, held: Tensor[], owner: EventWorkOwner) {
    this.#event = event;
    this.#held = held;
    this.#owner = owner;
  }

  get completed(): boolean {
    if (!this.#done && this.#event.query()) this.#finish();
    return this.#done;
  }

  async wait(): Promise<void> {
    this.waitSync();
  }

  /** wait() without the promise (inside autograd functions): the same ordering, the same errors. */
  waitSync(): void {
    if (this.#waited || this.completed) {
      this.#waited = true;
      return;
    }
    this.#owner.checkHealth();
    this.#waited = true;
    Stream.current(`cuda:${this.#event.device}`).waitEvent(this.#event);
    this.#releaseTensors();
  }

  #finish(): void {
    this.#done = true;
    this.#event.dispose();
    this.#releaseTensors();
  }

  #releaseTensors(): void {
    for (const t of this.#held) t.dispose();
    this.#held = [];
  }
}
