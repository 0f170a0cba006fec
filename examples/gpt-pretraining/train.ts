// Pretrains GPT on the bundled WikiText-2 with the GPT-2 tokenizer — the README's main job.
// One process by default; under `tessera launch` the processes form tensor-parallel groups of
// --tensor_parallel_size, pipelines of --pipeline_parallel_size stages (stages.ts) and
// data-parallel replicas over the rest. Logs like Accelerate's
// megatron_lm_gpt_pretraining example: `epoch N: perplexity: ... eval_loss: ...`.
//
//   node --conditions=@tessera/source examples/gpt-pretraining/train.ts [flags]   (--help lists them)
import { type Distributed, initDistributed, ParallelState } from '@tessera/collectives';
import { manualSeed, setDefaultDevice, tensor } from '@tessera/core';
import { gptConfig, gptParameterCount } from '@tessera/models';
import { AdamW, megatronParamGroups, MixedPrecisionOptimizer, OptimizerParamScheduler } from '@tessera/optimizer';
import { checkScheduleShape, PipelineConfigError } from '@tessera/pipeline';
import { tensorParallel } from '@tessera/tensor-parallel';
import { ArgsError, parseTrainArgs } from './args.ts';
import { loadWikiText2, microBatch } from './data.ts';
import { Progress } from './progress.ts';
import { Stages } from './stages.ts';

async function main(): Promise<void> {
  const args = parseTrainArgs(process.argv.slice(2));
  const distributed = process.env.WORLD_SIZE !== undefined;
  const dist: Distributed | undefined = distributed ? await initDistributed() : undefined;
  const world = dist?.worldSize ?? 1;
  const modelParallel = args.tensorParallelSize * args.pipelineParallelSize;
  for (const [flag, size] of [['tensor_parallel_size', args.tensorParallelSize], ['pipeline_parallel_size', args.pipelineParallelSize]] as const) {
    if (!dist && size > 1) throw new ArgsError(`--${flag} ${size} needs that many processes: run it under \`tessera launch --num_processes N\``);
  }
  if (world % modelParallel !== 0) {
    throw new ArgsError(`--tensor_parallel_size ${args.tensorParallelSize} x --pipeline_parallel_size ${args.pipelineParallelSize} does not divide the ${world} process(es)`);
  }
  checkScheduleShape({ pipelineSize: args.pipelineParallelSize, virtualSize: args.virtualPipelineSize, numMicroBatches: args.numMicroBatches });
  const device = args.device === 'cuda' ? (dist ? `cuda:${dist.localRank}` : 'cuda:0') : 'cpu';
  setDefaultDevice(device);
  const ps = dist
    ? await ParallelState.create(dist, {
        tensor: args.tensorParallelSize,
        pipeline: args.pipelineParallelSize,
        virtualPipeline: args.virtualPipelineSize > 1 ? args.virtualPipelineSize : undefined,
      })
    : undefined;
  const dpSize = ps?.dataSize ?? 1;
  const dpRank = ps?.dataRank ?? 0;
  // Accelerate's convention: the main process is the last rank, where the loss lives.
  const isMain = (dist?.rank ?? 0) === world - 1;
  const log = (line: string) => {
    if (isMain) console.log(line);
  };
  // Megatron's training seed: --seed + 100 x pipeline rank, so stages draw different dropout masks
  // (initialization does not use it: every parameter has its own seed from its name).
  const rngSeed = args.seed + 100 * (ps?.pipelineRank ?? 0);
  manualSeed(rngSeed);

  const data = loadWikiText2(args.blockSize, args.seed);
  const config = gptConfig(args.model, { maxPositionEmbeddings: Math.max(args.blockSize, gptConfig(args.model).maxPositionEmbeddings) });
  const tp = tensorParallel(ps, { sequenceParallel: args.sequenceParallel, seed: rngSeed, device });
  const stages = new Stages({
    config, tp, ps, pipelineSize: args.pipelineParallelSize, virtualPipelineSize: args.virtualPipelineSize, numMicroBatches: args.numMicroBatches,
    microBatchSize: args.perDeviceTrainBatchSize, seqLength: args.blockSize, dtype: args.dtype, device, seed: args.seed,
  });
  const optimizer = new MixedPrecisionOptimizer(
    new AdamW(megatronParamGroups(stages.namedParameters(), { weightDecay: args.weightDecay }), { lr: args.learningRate, betas: [0.9, 0.95] }),
    { ddp: stages.gradSync, clipGrad: 1.0, parallel: ps },
  );
  // Micro-batches of one step: accumulation step a, micro-batch j, data-parallel rank d.
  const microBatches = args.numMicroBatches * args.gradientAccumulationSteps;
  const globalBatch = args.perDeviceTrainBatchSize * dpSize * microBatches;
  const stepsPerEpoch = Math.floor(data.train.length / globalBatch);
  const totalSteps = Math.min(args.maxTrainSteps ?? Number.POSITIVE_INFINITY, stepsPerEpoch * args.numTrainEpochs);
  const epochs = Math.ceil(totalSteps / stepsPerEpoch);
  const scheduler = new OptimizerParamScheduler(optimizer, {
    maxLr: args.learningRate,
    minLr: args.lrSchedulerType === 'constant' ? args.learningRate : 0,
    warmupSteps: Math.min(args.numWarmupSteps, totalSteps - 1),
    decaySteps: totalSteps,
    decayStyle: args.lrSchedulerType,
    startWd: args.weightDecay,
  });
  log(
    `${args.model}: ${(gptParameterCount(config) / 1e6).toFixed(1)}M parameters, ${args.dtype} on ${args.device}, ` +
      `TP ${args.tensorParallelSize} x DP ${dpSize}${args.pipelineParallelSize > 1 ? ` x PP ${args.pipelineParallelSize}` : ''}` +
      `${args.virtualPipelineSize > 1 ? ` (${args.virtualPipelineSize} chunks per stage)` : ''}${tp.sequenceParallel ? ' with sequence parallelism' : ''}; ` +
      `WikiText-2: ${data.train.length} train / ${data.valid.length} valid blocks of ${args.blockSize} tokens; ` +
      `${totalSteps} steps of ${globalBatch} blocks` +
      `${microBatches > 1 ? ` (${args.numMicroBatches} micro-batches x ${args.gradientAccumulationSteps} accumulation steps of ${args.perDeviceTrainBatchSize} per rank)` : ''}`,
  );

  // Losses live on the last pipeline stage; its data-parallel ranks average them.
  const meanOverDp = async (loss: number) => {
    const t = tensor([loss]);
    if (ps && dpSize > 1) await ps.data.allReduce(t, 'avg').wait();
    const v = t.item();
    t.dispose();
    return v;
  };

  let step = 0;
  for (let epoch = 0; epoch < epochs && step < totalSteps; epoch++) {
    stages.train(true);
    const progress = new Progress(Math.min(stepsPerEpoch, totalSteps - step), `epoch ${epoch}`, isMain && !args.quiet);
    let lastLoss = Number.NaN;
    for (let i = 0; i < stepsPerEpoch && step < totalSteps; i++, step++) {
      optimizer.zeroGrad();
      const mbs = args.perDeviceTrainBatchSize;
      const at = (a: number, j: number) => i * globalBatch + ((a * args.numMicroBatches + j) * dpSize + dpRank) * mbs;
      const loss = await stages.trainStep(args.gradientAccumulationSteps, (a, j) => microBatch(data.train, at(a, j), mbs, device));
      await optimizer.step();
      scheduler.step(1);
      if (loss !== undefined) lastLoss = await meanOverDp(loss);
      progress.update(i + 1, `loss ${lastLoss.toFixed(4)}`);
    }

    // Evaluation on the validation split, averaged over the data-parallel ranks (on the last stage).
    stages.train(false);
    const evalBatch = args.perDeviceEvalBatchSize;
    const perStep = evalBatch * dpSize * args.numMicroBatches;
    const evalSteps = Math.min(args.maxEvalBatches ?? Number.POSITIVE_INFINITY, Math.floor(data.valid.length / perStep));
    let total = 0;
    for (let i = 0; i < evalSteps; i++) {
      const l = stages.evalStep(evalBatch, (j) => microBatch(data.valid, i * perStep + (j * dpSize + dpRank) * evalBatch, evalBatch, device));
      if (l !== undefined) total += await meanOverDp(l);
    }
    const evalLoss = total / Math.max(1, evalSteps);
    log(`epoch ${epoch}: perplexity: ${Math.exp(evalLoss)} eval_loss: ${evalLoss} (train loss ${lastLoss.toFixed(4)}, ${progress.elapsedSeconds.toFixed(1)} s)`);
  }

  optimizer.optimizer.dispose();
  stages.dispose();
  await dist?.destroy();
}

main().catch((err) => {
  const usage = err instanceof ArgsError || err instanceof PipelineConfigError;
  console.error(usage ? `train: ${err.message}` : err);
  process.exit(usage ? 2 : 1);
});
