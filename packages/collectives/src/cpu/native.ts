// The cpu backend's native data plane (@tessera/native, csrc/cpu/comm_*.cpp): the binding's
// functions, and its errors as DistributedErrors (the native side gives each error its code).
import { loadNative, type NativeBinding } from '@tessera/native';
import { DistributedError, type DistributedErrorCode } from '../errors.ts';

export type CpuCommBinding = Pick<
  NativeBinding,
  | 'cpuCommListen' | 'cpuCommConnect' | 'cpuCommGroupCreate' | 'cpuCommGroupDestroy' | 'cpuCommAllReduce'
  | 'cpuCommReduceScatter' | 'cpuCommAllGather' | 'cpuCommBroadcast' | 'cpuCommSendRecv' | 'cpuCommBarrier' | 'cpuCommClose'
>;

const CODES: readonly DistributedErrorCode[] = ['TIMEOUT', 'PEER_LOST', 'MISMATCH', 'ABORTED', 'CLOSED', 'INVALID', 'UNREACHABLE'];

/** The binding's cpu backend functions, or an error that says how to get them. */
export function cpuCommBinding(): CpuCommBinding {
  const nb = loadNative().binding;
  if (typeof nb.cpuCommListen !== 'function') {
    throw new DistributedError(
      'CONFIG',
      'this build of @tessera/native predates the native cpu backend; rebuild it (node native/scripts/build.ts)',
    );
  }
  return nb;
}

/** Runs a native call; its error comes back as a DistributedError with the native code. */
export function callNative<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    if (err instanceof DistributedError) throw err;
    const code = (err as { code?: string }).code as DistributedErrorCode | undefined;
    throw new DistributedError(code && CODES.includes(code) ? code : 'INVALID', (err as Error).message, { cause: err });
  }
}
