// Messages from one peer, sorted by key (group, channel, sequence number) so that several
// operations can be in flight at once. A message that arrives before anyone asks for it waits in
// its queue. Once the peer is gone, queued messages can still be taken (they were sent before it
// left), but asking for more fails at once with the reason.
import type { FrameHeader } from './frame.ts';

export interface Message {
  header: FrameHeader;
  /** The payload in pieces, as it arrived. */
  payload: Buffer[];
}

interface Waiter {
  resolve: (m: Message) => void;
  reject: (err: Error) => void;
}

export class Mailbox {
  readonly #queues = new Map<string, Message[]>();
  readonly #waiters = new Map<string, Waiter[]>();
  #closed: Error | undefined;

  deliver(key: string, message: Message): void {
    const waiters = this.#waiters.get(key);
    const w = waiters?.shift();
    if (w) {
      if (waiters?.length === 0) this.#waiters.delete(key);
      w.resolve(message);
      return;
    }
    const q = this.#queues.get(key);
    if (q) q.push(message);
    else this.#queues.set(key, [message]);
  }

  /** The next message under `key`; `cancel` withdraws the request (after a failure). */
  take(key: string): { message: Promise<Message>; cancel: () => void } {
    const q = this.#queues.get(key);
    const queued = q?.shift();
    if (queued) {
      if (q?.length === 0) this.#queues.delete(key);
      return { message: Promise.resolve(queued), cancel: () => {} };
    }
    if (this.#closed) return { message: Promise.reject(this.#closed), cancel: () => {} };
    let waiter: Waiter | undefined;
    const message = new Promise<Message>((resolve, reject) => {
      waiter = { resolve, reject };
      const list = this.#waiters.get(key);
      if (list) list.push(waiter);
      else this.#waiters.set(key, [waiter]);
    });
    const cancel = () => {
      const list = this.#waiters.get(key);
      if (!list || !waiter) return;
      const i = list.indexOf(waiter);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#waiters.delete(key);
    };
    return { message, cancel };
  }

  /** No more messages will come: waiting and later requests fail with `reason`. */
  close(reason: Error): void {
    if (this.#closed) return;
    this.#closed = reason;
    for (const list of this.#waiters.values()) for (const w of list) w.reject(reason);
    this.#waiters.clear();
  }

  get closed(): Error | undefined {
    return this.#closed;
  }

  /** Drops queued messages of a group that no longer exists or failed. */
  dropGroup(prefix: string): void {
    for (const key of [...this.#queues.keys()]) if (key.startsWith(prefix)) this.#queues.delete(key);
  }
}
