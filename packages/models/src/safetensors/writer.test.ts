// The writer's layout (the reference implementation's: padded header, aligned sorted data) and a
// round trip of every dtype through the reader.
import { describe, expect, it } from 'vitest';
import { tensor } from '@tessera/core';
import { dtypeBytes, type SafetensorsDType } from './dtypes.ts';
import { SafetensorsFile } from './file.ts';
import { readTensor } from './tensor.ts';
import { serializeSafetensors, type TensorBytes } from './writer.ts';

describe('safetensors writer', () => {
  it('writes the length, the compact JSON padded with spaces to 8 bytes, then the data', () => {
    const bytes = serializeSafetensors({ test: { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } });
    const json = '{"test":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}';
    expect(json.length).toBe(60);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([64, 0, 0, 0, 0, 0, 0, 0]);
    expect(new TextDecoder().decode(bytes.subarray(8, 72))).toBe(`${json}    `);
    expect(Array.from(new Float32Array(bytes.slice(72).buffer))).toEqual([1, 2, 3, 4]);
    expect(bytes.byteLength).toBe(72 + 16);
  });

  it('puts metadata first and sorts tensors by element size, then name, so each one is aligned', () => {
    const bytes = serializeSafetensors(
      {
        c: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
        b: { dtype: 'F64', shape: [1], data: new Float64Array([0.5]) },
        a: { dtype: 'F16', shape: [1], data: new Uint16Array([0x3c00]) },
        d: { dtype: 'F64', shape: [1], data: new Float64Array([2]) },
      },
      { format: 'pt' },
    );
    const f = new SafetensorsFile(bytes);
    expect(Object.keys(JSON.parse(new TextDecoder().decode(bytes.subarray(8, f.header.dataStart))))).toEqual(['__metadata__', 'b', 'd', 'a', 'c']);
    expect(f.header.dataStart % 8).toBe(0);
    for (const e of f.header.tensors.values()) expect(e.start % dtypeBytes(e.dtype)).toBe(0);
  });

  it('round-trips every dtype, from raw bytes and from Tessera tensors', () => {
    const raw: Record<string, TensorBytes> = {};
    const kinds: [SafetensorsDType, ArrayBufferView][] = [
      ['F64', new Float64Array([1.5, -2])], ['F32', new Float32Array([3.25, 4])], ['F16', new Uint16Array([0x3c00, 0xc000])],
      ['BF16', new Uint16Array([0x3f80, 0x4000])], ['I64', new BigInt64Array([-5n, 2n ** 40n])], ['I32', new Int32Array([-7, 9])],
      ['I8', new Int8Array([-1, 127])], ['U8', new Uint8Array([0, 255])], ['BOOL', new Uint8Array([1, 0])],
    ];
    for (const [dtype, data] of kinds) raw[dtype] = { dtype, shape: [2], data };
    const f = new SafetensorsFile(serializeSafetensors({ ...raw, t: tensor([[1, 2, 3]], { dtype: 'bf16' }) }));
    for (const [dtype, data] of kinds) {
      const got = f.read(dtype);
      expect(got.dtype).toBe(dtype);
      expect(Array.from(got.bytes)).toEqual(Array.from(new Uint8Array(data.buffer)));
    }
    expect(f.info('t')).toMatchObject({ dtype: 'BF16', shape: [1, 3] });
    expect(readTensor(f, 't').toArray()).toEqual([1, 2, 3]);
    expect(readTensor(f, 'I64').toArray()).toEqual([-5, 2 ** 40]);
    expect(() => readTensor(f, 'U8')).toThrow("tensor 'U8' is U8, which Tessera has no tensor type for");
  });

  it('refuses data that does not fill the shape and the reserved name', () => {
    expect(() => serializeSafetensors({ x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow("tensor 'x' is F32[3] (12 bytes) but 8 bytes were given");
    expect(() => serializeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } })).toThrow('reserved');
  });
});
