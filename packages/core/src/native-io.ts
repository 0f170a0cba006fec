// File I/O from the native binding, typed for the packages above core (datasets reads its
// .bin/.idx files through these). The binding is loaded on first use, so importing this module
// never fails on a machine where the addon is not built until a mapping is actually requested.
import { loadNative } from '@tessera/native';

/** Access patterns for `adviseMapped` (madvise). */
export type MappedAccess = 'normal' | 'random' | 'sequential' | 'willneed';
const ADVICE: Record<MappedAccess, 0 | 1 | 2 | 3> = { normal: 0, random: 1, sequential: 2, willneed: 3 };

/**
 * Maps a whole file into memory without copying it (copy-on-write: writes to the returned bytes
 * stay in this process and never reach the file). The mapping is released when the returned
 * array and every view of its buffer are garbage collected.
 */
export function mapFile(path: string): Uint8Array {
  return new Uint8Array(loadNative().binding.mmapFile(path));
}

/** Tells the kernel how a mapped range will be read (e.g. 'random' for shuffled sample reads). */
export function adviseMapped(bytes: Uint8Array, access: MappedAccess, byteOffset = 0, byteLength = bytes.byteLength - byteOffset): void {
  if (byteLength <= 0) return;
  loadNative().binding.fileAdvise(bytes.buffer as ArrayBuffer, bytes.byteOffset + byteOffset, byteLength, ADVICE[access]);
}
