// Pretrains GPT on the bundled WikiText-2 with the GPT-2 tokenizer — the README's main job.
// One process by default; under `tessera launch` the processes form tensor-parallel groups of
// --tensor_parallel_size and data-parallel replicas over the rest. Logs like Accelerate's
// megatron_lm_gpt_pretraining example: `epoch N: perplexity: ... eval_loss: ...`.
//
//   node --conditions=@tessera/source examples/gpt-pretraining/train.ts [flags]   (--help lists them)
import { type Distributed, initDistributed, ParallelState } from '@tessera/collectives';
import { manualSeed, noGrad, scope, setDefaultDevice, type Tensor } from '@tessera/core';
import { GPTModel, gptConfig, gptParameterCount, maskedMeanLoss } from '@tessera/models';
import { AdamW, DistributedDataParallel, megatronParamGroups, MixedPrecisionOptimizer, OptimizerParamScheduler } from '@tessera/optimizer';
import { allReduceSequenceParallelGrads, tensorParallel } from '@tessera/tensor-parallel';
import { ArgsError, parseTrainArgs } from './args.ts';
import { loadWikiText2, microBatch } from './data.ts';
import { Progress } from './progress.ts';

async function main(): Promise<void> {
  const args = parseTrainArgs(process.argv.slice(2));
  const distributed = process.env.WORLD_SIZE !== undefined;
  const dist: Distributed | undefined = distributed ? await initDistributed() : undefined;
  const world = dist?.worldSize ?? 1;
  if (!dist && args.tensorParallelSize > 1) {
    throw new ArgsError(`--tensor_parallel_size ${args.tensorParallelSize} needs that many processes: run it under \`tessera launch --num_processes N\``);
  }
  if (world % args.tensorParallelSize !== 0) {
    throw new ArgsError(`--tensor_parallel_size ${args.tensorParallelSize} does not divide the ${world} process(es)`);
  }
  const device = args.device === 'cuda' ? (dist ? `cuda:${dist.localRank}` : 'cuda:0') : 'cpu';
  setDefaultDevice(device);
  const ps = dist ? await ParallelState.create(dist, { tensor: args.tensorParallelSize }) : undefined;
  const dpSize = ps?.dataSize ?? 1;
  const dpRank = ps?.dataRank ?? 0;
  // Accelerate's convention: the main process is the last rank, where the loss lives.
  const isMain = (dist?.rank ?? 0) === world - 1;
  const log = (line: string) => {
    if (isMain) console.log(line);
  };
  manualSeed(args.seed);

  const data = loadWikiText2(args.blockSize, args.seed);
  const config = gptConfig(args.model, { maxPositionEmbeddings: Math.max(args.blockSize, gptConfig(args.model).maxPositionEmbeddings) });
  const tp = tensorParallel(ps, { sequenceParallel: args.sequenceParallel, seed: args.seed, device });
  const model = new GPTModel(config, { tp, dtype: args.dtype, device, seed: args.seed });
  const ddp = new DistributedDataParallel(model, { dataParallel: ps?.data });
  const optimizer = new MixedPrecisionOptimizer(
    new AdamW(megatronParamGroups(model, { weightDecay: args.weightDecay }), { lr: args.learningRate, betas: [0.9, 0.95] }),
    { ddp, clipGrad: 1.0, parallel: ps },
  );
  const globalBatch = args.perDeviceTrainBatchSize * dpSize;
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
      `TP ${args.tensorParallelSize} x DP ${dpSize}${tp.sequenceParallel ? ' with sequence parallelism' : ''}; ` +
      `WikiText-2: ${data.train.length} train / ${data.valid.length} valid blocks of ${args.blockSize} tokens; ` +
      `${totalSteps} steps of ${globalBatch} blocks`,
  );

  const meanOverDp = async (t: Tensor) => {
    if (ps && dpSize > 1) await ps.data.allReduce(t, 'avg').wait();
    return t.item();
  };

  let step = 0;
  for (let epoch = 0; epoch < epochs && step < totalSteps; epoch++) {
    model.train();
    const progress = new Progress(Math.min(stepsPerEpoch, totalSteps - step), `epoch ${epoch}`, isMain && !args.quiet);
    let lastLoss = Number.NaN;
    for (let i = 0; i < stepsPerEpoch && step < totalSteps; i++, step++) {
      optimizer.zeroGrad();
      const start = i * globalBatch + dpRank * args.perDeviceTrainBatchSize;
      const loss = scope(() => {
        const b = microBatch(data.train, start, args.perDeviceTrainBatchSize, device);
        const l = maskedMeanLoss(model.forward(b.ids, { labels: b.labels }), b.lossMask);
        l.backward();
        return l.detach();
      });
      await ddp.finishGradSync();
      await allReduceSequenceParallelGrads(model, tp);
      await optimizer.step();
      scheduler.step(1);
      lastLoss = await meanOverDp(loss);
      loss.dispose();
      progress.update(i + 1, `loss ${lastLoss.toFixed(4)}`);
    }

    // Evaluation on the validation split, averaged over the data-parallel ranks.
    model.eval();
    const evalBatch = args.perDeviceEvalBatchSize;
    const evalSteps = Math.min(args.maxEvalBatches ?? Number.POSITIVE_INFINITY, Math.floor(data.valid.length / (evalBatch * dpSize)));
    let total = 0;
    for (let i = 0; i < evalSteps; i++) {
      const start = (i * dpSize + dpRank) * evalBatch;
      const l = noGrad(() =>
        scope(() => {
          const b = microBatch(data.valid, start, evalBatch, device);
          return maskedMeanLoss(model.forward(b.ids, { labels: b.labels }), b.lossMask);
        }),
      );
      total += await meanOverDp(l);
      l.dispose();
    }
    const evalLoss = total / Math.max(1, evalSteps);
    log(`epoch ${epoch}: perplexity: ${Math.exp(evalLoss)} eval_loss: ${evalLoss} (train loss ${lastLoss.toFixed(4)}, ${progress.elapsedSeconds.toFixed(1)} s)`);
  }

  ddp.dispose();
  optimizer.optimizer.dispose();
  model.dispose();
  await dist?.destroy();
}

main().catch((err) => {
  const usage = err instanceof ArgsError;
  console.error(usage ? `train: ${err.message}` : err);
  process.exit(usage ? 2 : 1);
});
