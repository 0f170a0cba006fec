import { describe, expect, it } from 'vitest';
import { Channel, encodeHeader, type FrameHeader, FrameParser, FrameType, groupId } from './frame.ts';
import { chunkBounds, segments } from './ring.ts';

function frame(seq: number, length: number): { header: FrameHeader; bytes: Buffer } {
  const header: FrameHeader = {
    type: FrameType.data,
    channel: Channel.collective,
    gid: groupId('cpu:0,1#0'),
    seq,
    meta: { op: 'allReduce', dtype: 'bf16', numel: 2 ** 40 + 3, reduce: 'max', root: 7 },
    length,
  };
  const payload = Buffer.from(Array.from({ length }, (_, i) => (i * 31 + seq) & 255));
  return { header, bytes: Buffer.concat([encodeHeader(header), payload]) };
}

describe('FrameParser', () => {
  it('reassembles frames however the stream is cut', () => {
    const frames = [frame(0, 0), frame(1, 5), frame(2, 70_000), frame(3, 0), frame(4, 1)];
    const stream = Buffer.concat(frames.map((f) => f.bytes));
    for (const cut of [1, 7, 32, 33, 1000, 65_536, stream.length]) {
      const got: Array<{ header: FrameHeader; payload: Buffer }> = [];
      const parser = new FrameParser((header, parts) => got.push({ header, payload: Buffer.concat(parts) }));
      for (let off = 0; off < stream.length; off += cut) parser.push(stream.subarray(off, off + cut));
      expect(got.map((g) => g.header)).toEqual(frames.map((f) => f.header));
      for (const [i, g] of got.entries()) expect(g.payload.equals((frames[i] as { bytes: Buffer }).bytes.subarray(32))).toBe(true);
    }
  });
});

describe('ring chunking', () => {
  it('splits any size into one chunk per member, sizes differing by at most one', () => {
    expect(chunkBounds(10, 4)).toEqual({ start: [0, 2, 5, 7], count: [2, 3, 2, 3] });
    expect(chunkBounds(3, 8).count.reduce((a, b) => a + b)).toBe(3);
    expect(chunkBounds(0, 3)).toEqual({ start: [0, 0, 0], count: [0, 0, 0] });
  });

  it('cuts a chunk into segments, always at least one', () => {
    expect(segments(10, 7, 3)).toEqual([[10, 3], [13, 3], [16, 1]]);
    expect(segments(4, 0, 3)).toEqual([[4, 0]]);
  });
});
