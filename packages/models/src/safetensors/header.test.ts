// Header validation: every malformed file is refused with a message naming the file and the fault.
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from './file.ts';
import { serializeSafetensors } from './writer.ts';

/** A file from a header object (or raw header text) and `dataBytes` bytes of data. */
function fileFrom(header: unknown, dataBytes: number, opts: { lengthField?: number; raw?: Uint8Array } = {}): Uint8Array {
  const json = opts.raw ?? new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(opts.lengthField ?? json.byteLength), true);
  out.set(json, 8);
  return out;
}

const open = (bytes: Uint8Array) => new SafetensorsFile(bytes, 'bad.safetensors');
const entry = (dtype: string, shape: number[], begin: number, end: number) => ({ dtype, shape, data_offsets: [begin, end] });

describe('safetensors header validation', () => {
  it('accepts a well-formed header and keeps metadata, dtypes, shapes and offsets', () => {
    const f = open(fileFrom({ __metadata__: { format: 'pt' }, b: entry('BF16', [2], 8, 12), a: entry('F32', [2], 0, 8) }, 12));
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.names()).toEqual(['b', 'a']);
    expect(f.info('b')).toMatchObject({ dtype: 'BF16', shape: [2], byteLength: 4 });
    expect(f.header.tensors.get('a')?.start).toBe(f.header.dataStart);
  });

  it.each([
    ['a file shorter than the length field', new Uint8Array(5), /bad\.safetensors: truncated header: 5 bytes/],
    ['a header length past the end of the file', fileFrom({}, 0, { lengthField: 100 }), /truncated header: the header length says 100 bytes but only 2 follow/],
    ['an absurd header length', fileFrom({}, 0, { lengthField: 2 ** 40 }), /exceeds the 104857600-byte limit/],
    ['invalid JSON', fileFrom('{"a": ', 0), /the header is not valid JSON/],
    ['invalid UTF-8', fileFrom(null, 0, { raw: new Uint8Array([0x7b, 0xff, 0x7d]) }), /not valid UTF-8/],
    ['a JSON array', fileFrom([], 0), /must be a JSON object/],
    ['an unknown dtype', fileFrom({ a: entry('F12', [1], 0, 4) }, 4), /tensor 'a': unknown dtype "F12" \(known: F64, F32/],
    ['a shape that does not match the byte range', fileFrom({ a: entry('F32', [2, 3], 0, 20) }, 20), /tensor 'a': shape\/size mismatch: F32\[2, 3\] needs 24 bytes but data_offsets \[0, 20\] span 20/],
    ['a negative dimension', fileFrom({ a: entry('F32', [-1], 0, 0) }, 0), /shape must be an array of non-negative integers/],
    ['reversed offsets', fileFrom({ a: entry('U8', [0], 4, 2) }, 4), /data_offsets must be \[begin, end\]/],
    ['offsets past the end of the data', fileFrom({ a: entry('F32', [4], 0, 16) }, 8), /offsets out of range: tensor 'a' ends at data byte 16 but the file holds only 8 bytes of data.*truncated/],
    ['overlapping tensors', fileFrom({ a: entry('F32', [2], 0, 8), b: entry('F32', [2], 4, 12) }, 12), /overlapping tensors: 'b' starts at data byte 4, inside 'a'/],
    ['a gap between tensors', fileFrom({ a: entry('F32', [1], 0, 4), b: entry('F32', [1], 8, 12) }, 12), /4 unused bytes before tensor 'b'/],
    ['bytes after the last tensor', fileFrom({ a: entry('F32', [1], 0, 4) }, 6), /2 bytes after the last tensor's data/],
    ['non-string metadata', fileFrom({ __metadata__: { step: 3 } }, 0), /__metadata__ value 'step' must be a string/],
  ])('refuses %s', (_what, bytes, message) => {
    expect(() => open(bytes)).toThrow(message);
  });

  it('accepts an empty file of tensors and zero-size tensors', () => {
    expect(open(fileFrom({}, 0)).names()).toEqual([]);
    expect(open(fileFrom({ z: entry('F32', [0, 3], 0, 0), a: entry('I8', [2], 0, 2) }, 2)).info('z').byteLength).toBe(0);
  });

  it('names the missing tensor and what the file has', () => {
    const f = new SafetensorsFile(serializeSafetensors({ x: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } }), 'm.safetensors');
    expect(() => f.info('y')).toThrow("m.safetensors: no tensor named 'y' (the file has 1: x)");
  });
});
