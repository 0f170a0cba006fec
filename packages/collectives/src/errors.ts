// One error type for everything distributed, with a code that programs (and tests) can branch on,
// and a message that names the problem and the fix.

export type DistributedErrorCode =
  | 'CONFIG' // a missing or invalid variable or option
  | 'UNREACHABLE' // the rendezvous store or a peer could not be reached in time
  | 'PORT_IN_USE' // rank 0 could not serve the store on MASTER_PORT
  | 'TIMEOUT' // an operation did not finish within its timeout
  | 'PEER_LOST' // a peer process exited, crashed or shut down its process group
  | 'MISMATCH' // ranks disagree about a collective (size, dtype, op, root)
  | 'ABORTED' // another rank reported a failure of the same operation
  | 'INVALID' // a bad argument detected locally (device, size, rank)
  | 'CLOSED'; // the store or group was already destroyed

export class DistributedError extends Error {
  readonly code: DistributedErrorCode;
  constructor(code: DistributedErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DistributedError';
    this.code = code;
  }
}

/** Seconds with one decimal, for messages. */
export function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}
