// Reading through the mapping: whole tensors, rows (zero-copy), columns, strided row blocks and
// inner-dimension selections, each checked against indexing the values directly, with the bytes
// counted.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SafetensorsFile } from './file.ts';
import { columns, rowBlocks, rows, type Selection } from './selection.ts';
import { readTensor } from './tensor.ts';
import { serializeSafetensors } from './writer.ts';

const SHAPE = [6, 5, 3];
const values = Float32Array.from({ length: 90 }, (_, i) => i * 0.5 - 7);

/** The selected values, computed by index arithmetic on the flat array. */
function expected(sel: Selection): number[] {
  const out: number[] = [];
  const [d0, d1, d2] = SHAPE as [number, number, number];
  const pick = (dim: number, n: number) => (dim === sel.dim ? sel.ranges.flatMap(([a, b]) => Array.from({ length: b - a }, (_, i) => a + i)) : Array.from({ length: n }, (_, i) => i));
  for (const i of pick(0, d0)) for (const j of pick(1, d1)) for (const k of pick(2, d2)) out.push(values[(i * d1 + j) * d2 + k] as number);
  return out;
}

function openWritten(): SafetensorsFile {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-st-'));
  const path = join(dir, 'x.safetensors');
  writeFileSync(path, serializeSafetensors({ x: { dtype: 'F32', shape: SHAPE, data: values }, small: { dtype: 'I32', shape: [2], data: new Int32Array([4, 5]) } }));
  return SafetensorsFile.open(path);
}

const floats = (bytes: Uint8Array) => Array.from(new Float32Array(bytes.slice().buffer));

describe('SafetensorsFile reads', () => {
  it('maps the file and reads whole tensors as views of the mapping', () => {
    const f = openWritten();
    expect(f.bytesRead).toBe(0);
    const all = f.read('x');
    expect(all.shape).toEqual(SHAPE);
    expect(floats(all.bytes)).toEqual(Array.from(values));
    expect(f.bytesRead).toBe(360);
    expect(readTensor(f, 'small').toArray()).toEqual([4, 5]);
  });

  it.each<[string, Selection, number[]]>([
    ['rows [2, 4)', rows(2, 4), [2, 5, 3]],
    ['columns [1, 3)', columns(1, 3), [6, 2, 3]],
    ['strided row blocks', rowBlocks([[0, 1], [3, 5], [5, 6]]), [4, 5, 3]],
    ['the last dimension', { dim: 2, ranges: [[2, 3], [0, 1]] }, [6, 5, 2]],
  ])('reads only %s', (_what, sel, shape) => {
    const f = openWritten();
    const got = f.read('x', sel);
    expect(got.shape).toEqual(shape);
    expect(floats(got.bytes)).toEqual(expected(sel));
    expect(f.bytesRead).toBe(shape.reduce((a, b) => a * b, 4));
    expect(Array.from(readTensor(f, 'x', { selection: sel }).toArray())).toEqual(expected(sel));
  });

  it('returns a contiguous row range without copying it', () => {
    const f = openWritten();
    const whole = f.read('x').bytes;
    const part = f.read('x', rows(1, 3)).bytes;
    expect(part.buffer).toBe(whole.buffer);
    expect(part.byteOffset).toBe(whole.byteOffset + 60);
  });

  it('refuses selections outside the tensor', () => {
    const f = openWritten();
    expect(() => f.read('x', rows(4, 7))).toThrow("x.safetensors: cannot select from 'x': range [4, 7) is outside dimension 0 of size 6");
    expect(() => f.read('x', { dim: 3, ranges: [[0, 1]] })).toThrow('dimension 3 does not exist in a tensor of shape [6, 5, 3]');
  });

  it('copies a range into its place in a larger destination', () => {
    const f = openWritten();
    const dst = new Uint8Array(6 * 4 * 3 * 4);
    f.copyAlongDim('x', 1, [3, 5], dst, 4, 1);
    const got = new Float32Array(dst.buffer);
    expect(got[(0 * 4 + 1) * 3]).toBe(values[(0 * 5 + 3) * 3]);
    expect(got[(5 * 4 + 2) * 3 + 2]).toBe(values[(5 * 5 + 4) * 3 + 2]);
    expect(got[0]).toBe(0);
    expect(() => f.copyAlongDim('x', 1, [0, 4], dst, 4, 1)).toThrow('cannot take 4 indices at 1');
  });

  it('names the file when it cannot be opened', () => {
    expect(() => SafetensorsFile.open('/nonexistent/model.safetensors')).toThrow('/nonexistent/model.safetensors: cannot open');
  });
});
