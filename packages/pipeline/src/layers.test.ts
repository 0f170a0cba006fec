// Layer splits: Megatron's interleaved assignment, uneven first/last stages, and the rules.
import { describe, expect, it } from 'vitest';
import { PipelineConfigError } from './errors.ts';
import { splitLayers, stageLayers } from './layers.ts';

const ranges = (o: Parameters<typeof splitLayers>[0]) => splitLayers(o).map((chunks) => chunks.map((c) => c.layerRange));

describe('splitLayers', () => {
  it('gives each stage a contiguous block; the first embeds, the last computes the loss', () => {
    expect(splitLayers({ numLayers: 8, pipelineSize: 4 })).toEqual([
      [{ preProcess: true, postProcess: false, layerRange: [0, 2] }],
      [{ preProcess: false, postProcess: false, layerRange: [2, 4] }],
      [{ preProcess: false, postProcess: false, layerRange: [4, 6] }],
      [{ preProcess: false, postProcess: true, layerRange: [6, 8] }],
    ]);
  });

  it('interleaves chunks as Megatron does (8 layers, pp=2, v=2: rank 0 [0,2) and [4,6), rank 1 [2,4) and [6,8))', () => {
    expect(ranges({ numLayers: 8, pipelineSize: 2, virtualPipelineSize: 2 })).toEqual([[[0, 2], [4, 6]], [[2, 4], [6, 8]]]);
    const [first, last] = splitLayers({ numLayers: 8, pipelineSize: 2, virtualPipelineSize: 2 });
    expect(first?.map((c) => [c.preProcess, c.postProcess])).toEqual([[true, false], [false, false]]);
    expect(last?.map((c) => [c.preProcess, c.postProcess])).toEqual([[false, false], [false, true]]);
    expect(stageLayers({ numLayers: 16, pipelineSize: 4, virtualPipelineSize: 2, pipelineRank: 3 }).map((c) => c.layerRange)).toEqual([[6, 8], [14, 16]]);
  });

  it('splits unevenly with firstStageLayers / lastStageLayers, the middle stages sharing the rest', () => {
    expect(ranges({ numLayers: 7, pipelineSize: 3, lastStageLayers: 1 })).toEqual([[[0, 3]], [[3, 6]], [[6, 7]]]);
    expect(ranges({ numLayers: 8, pipelineSize: 2, firstStageLayers: 5, lastStageLayers: 3 })).toEqual([[[0, 5]], [[5, 8]]]);
    expect(ranges({ numLayers: 10, pipelineSize: 3, virtualPipelineSize: 2, firstStageLayers: 2, lastStageLayers: 2 })).toEqual([
      [[0, 1], [5, 6]], [[1, 4], [6, 9]], [[4, 5], [9, 10]],
    ]);
  });

  it('refuses splits that break a rule, naming it', () => {
    const rule = (o: Parameters<typeof splitLayers>[0]) => {
      try {
        splitLayers(o);
      } catch (err) {
        expect(err).toBeInstanceOf(PipelineConfigError);
        return [(err as PipelineConfigError).rule, (err as Error).message];
      }
      return undefined;
    };
    expect(rule({ numLayers: 6, pipelineSize: 4 })).toEqual(['layers-divisible', 'pipeline config: the number of layers (6) must be divisible by pipeline size x virtual pipeline size (4 x 1 = 4) for an even split; or set firstStageLayers / lastStageLayers']);
    expect(rule({ numLayers: 8, pipelineSize: 2, virtualPipelineSize: 3 })?.[0]).toBe('layers-divisible');
    expect(rule({ numLayers: 8, pipelineSize: 1, virtualPipelineSize: 2 })?.[0]).toBe('virtual-needs-pipeline');
    expect(rule({ numLayers: 8, pipelineSize: 1, firstStageLayers: 4 })?.[0]).toBe('uneven-needs-pipeline');
    expect(rule({ numLayers: 8, pipelineSize: 2, firstStageLayers: 5, lastStageLayers: 2 })?.[1]).toMatch(/must equal the number of layers \(8\) with 2 stages, got 7/);
    expect(rule({ numLayers: 8, pipelineSize: 3, lastStageLayers: 1 })?.[1]).toMatch(/the 7 layers left .* must split evenly, at least one per chunk, over the other 2 stage\(s\) x 1 chunk\(s\)/);
    expect(rule({ numLayers: 8, pipelineSize: 2, virtualPipelineSize: 2, firstStageLayers: 3 })?.[1]).toMatch(/firstStageLayers \(3\) must be divisible by the virtual pipeline size \(2\)/);
    expect(rule({ numLayers: 0, pipelineSize: 2 })?.[1]).toMatch(/numLayers must be a positive integer, got 0/);
    expect(() => stageLayers({ numLayers: 8, pipelineSize: 2, pipelineRank: 2 })).toThrow(/pipelineRank 2 is outside 0..1/);
  });
});
