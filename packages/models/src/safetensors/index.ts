// safetensors: a validating, zero-copy reader (single files and sharded checkpoints), slice reads
// for tensor-parallel loading, and a writer.
export { type SafetensorsDType, SAFETENSORS_DTYPES, dtypeBytes, tesseraDType, safetensorsDType } from './dtypes.ts';
export { SafetensorsError } from './errors.ts';
export { parseHeader, MAX_HEADER_BYTES, type SafetensorsHeader, type TensorEntry } from './header.ts';
export { type Selection, type Range, rows, columns, rowBlocks } from './selection.ts';
export type { TensorSource, TensorInfo, RawTensor } from './source.ts';
export { SafetensorsFile } from './file.ts';
export { ShardedSafetensors, openSafetensors, SINGLE_FILE, INDEX_FILE } from './checkpoint.ts';
export { serializeSafetensors, writeSafetensors, writeShardedSafetensors, type TensorBytes, type Writable } from './writer.ts';
export { rawToTensor, readTensor } from './tensor.ts';
