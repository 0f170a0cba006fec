// Token dtypes of indexed datasets and their codes in the .idx header (Megatron's `DType` enum).
export const DTYPE_CODES = { uint8: 1, int8: 2, int16: 3, int32: 4, int64: 5, float64: 6, float32: 7, uint16: 8 } as const;
export type TokenDType = keyof typeof DTYPE_CODES;

export type TokenArray =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Float64Array
  | Float32Array
  | Uint16Array;

type TokenArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TokenArray;
  new (length: number): TokenArray;
  readonly BYTES_PER_ELEMENT: number;
};

const CTORS: Record<TokenDType, TokenArrayCtor> = {
  uint8: Uint8Array,
  int8: Int8Array,
  int16: Int16Array,
  int32: Int32Array,
  int64: BigInt64Array,
  float64: Float64Array,
  float32: Float32Array,
  uint16: Uint16Array,
};

const RANGES: Partial<Record<TokenDType, [number, number]>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
};

export function dtypeFromCode(code: number): TokenDType | undefined {
  for (const [name, c] of Object.entries(DTYPE_CODES)) if (c === code) return name as TokenDType;
  return undefined;
}

export function itemSize(dtype: TokenDType): number {
  return CTORS[dtype].BYTES_PER_ELEMENT;
}

export function tokenArrayCtor(dtype: TokenDType): TokenArrayCtor {
  return CTORS[dtype];
}

/** The integer range a dtype holds, or undefined for int64 and floats. */
export function dtypeRange(dtype: TokenDType): [number, number] | undefined {
  return RANGES[dtype];
}

/** Megatron's `DType.optimal_dtype`: uint16 when the vocabulary has fewer than 65500 ids, else int32. */
export function optimalDtype(vocabSize: number | undefined): TokenDType {
  return vocabSize !== undefined && vocabSize < 65500 ? 'uint16' : 'int32';
}

export function idxPath(prefix: string): string {
  return `${prefix}.idx`;
}

export function binPath(prefix: string): string {
  return `${prefix}.bin`;
}
