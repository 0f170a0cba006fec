// Work handles of the cpu backend: the operation runs on the event loop, and wait() is its promise.
import type { Work } from './types.ts';

export class PromiseWork implements Work {
  readonly #promise: Promise<void>;
  #completed = false;

  constructor(promise: Promise<void>) {
    const settle = () => {
      this.#completed = true;
    };
    // Also marks the rejection as handled: a failed operation nobody waits for must not crash the
    // process by itself (its group is broken, so the next call reports the failure).
    promise.then(settle, settle);
    this.#promise = promise;
  }

  get completed(): boolean {
    return this.#completed;
  }

  wait(): Promise<void> {
    return this.#promise;
  }
}

/** A Work that is already done (operations with nothing to do). */
export const DONE: Work = { completed: true, wait: () => Promise.resolve() };
