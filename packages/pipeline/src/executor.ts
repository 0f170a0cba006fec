// Runs one rank's plan: forward and backward steps through the model chunks, and the exchanges
// with the neighbouring stages. It owns every tensor between steps: received inputs (leaves that
// collect their gradient), chunk outputs (kept for backward; their data freed once sent), received
// output gradients, and input gradients waiting to be sent. Whatever happens, they are disposed at
// the end, so a failed step leaks nothing.
import { keep, noGrad, runBackwardMany, scope, Tensor, zerosLike } from '@tessera/core';
import { PipelineError } from './errors.ts';
import type { StageP2P, StageMessage } from './p2p.ts';
import type { CommOp, Step } from './plan/types.ts';
import { releaseTensorData } from './release.ts';
import type { ForwardBackwardResult, ForwardStepFunc, GradSync, PipelineModule, ScheduleConfig } from './types.ts';

export interface RunContext<M extends PipelineModule, B> {
  forwardStep: ForwardStepFunc<M, B>;
  iterators: (Iterator<B> | undefined)[];
  chunks: readonly M[];
  numMicroBatches: number;
  forwardOnly: boolean;
  pipelineRank: number;
  pipelineSize: number;
  /** undefined with one stage. */
  p2p: StageP2P | undefined;
  config: ScheduleConfig;
}

const key = (chunk: number, mb: number) => `${chunk}:${mb}`;
const label = (chunk: number, mb: number, v: number) => `micro-batch ${mb}${v > 1 ? ` (chunk ${chunk})` : ''}`;

function take(map: Map<string, Tensor>, k: string, what: () => string): Tensor {
  const t = map.get(k);
  if (!t) throw new PipelineError(`schedule bug: ${what()} is not there`);
  map.delete(k);
  return t;
}

export class PlanExecutor<M extends PipelineModule, B> {
  readonly #c: RunContext<M, B>;
  readonly #v: number;
  /** Received activations waiting for their forward. */
  readonly #received = new Map<string, Tensor>();
  /** Inputs of forwards whose backward has not run (undefined on the first virtual stage). */
  readonly #inputs = new Map<string, Tensor | undefined>();
  /** Outputs: kept for backward (or, forward-only, until sent). */
  readonly #outputs = new Map<string, Tensor>();
  readonly #outputGrads = new Map<string, Tensor>();
  readonly #inputGrads = new Map<string, Tensor>();
  readonly #losses: (Tensor | undefined)[] = [];
  readonly #reports: Record<string, number>[] = [];
  readonly #backwards: number[];
  readonly #gradSync: (GradSync | undefined)[];

  constructor(c: RunContext<M, B>) {
    this.#c = c;
    this.#v = c.chunks.length;
    this.#backwards = new Array<number>(this.#v).fill(0);
    const gs = c.config.gradSync;
    this.#gradSync = Array.from({ length: this.#v }, (_, i) => (gs === undefined ? undefined : 'noSync' in gs ? gs : gs[i]));
  }

  run(plan: readonly Step[]): ForwardBackwardResult | undefined {
    try {
      for (const step of plan) {
        const start = performance.now();
        if (step.type === 'comm') {
          this.#exchange(step.ops);
          this.#c.config.trace?.({ type: 'comm', ops: step.ops, start, end: performance.now() });
          continue;
        }
        if (step.type === 'forward') this.#forward(step.chunk, step.microBatch);
        else this.#backward(step.chunk, step.microBatch);
        this.#c.config.trace?.({ type: step.type, chunk: step.chunk, microBatch: step.microBatch, start, end: performance.now(), inFlight: this.#inputs.size });
      }
      return this.#result();
    } finally {
      this.#dispose();
    }
  }

  #isFirstVirtual(chunk: number): boolean {
    return this.#c.pipelineRank === 0 && chunk === 0;
  }

  #isLastVirtual(chunk: number): boolean {
    return this.#c.pipelineRank === this.#c.pipelineSize - 1 && chunk === this.#v - 1;
  }

  #where(chunk: number, mb: number): string {
    return `pipeline stage ${this.#c.pipelineRank} of ${this.#c.pipelineSize}, ${label(chunk, mb, this.#v)}`;
  }

  #forward(chunk: number, mb: number): void {
    const c = this.#c;
    const k = key(chunk, mb);
    const input = this.#isFirstVirtual(chunk) ? undefined : take(this.#received, k, () => `the input of ${label(chunk, mb, this.#v)}`);
    this.#inputs.set(k, input);
    const model = c.chunks[chunk] as M;
    const last = this.#isLastVirtual(chunk);
    const body = () =>
      scope(() => {
        const r = c.forwardStep(c.iterators[chunk], model, { microBatch: mb, chunk });
        if (!last) return r.output;
        if (!r.lossFunc) throw new Error('the last stage\'s forwardStep must return a lossFunc with its output');
        const lo = r.lossFunc(r.output);
        const loss = lo instanceof Tensor ? lo : lo.loss;
        if (loss.numel !== 1) throw new Error(`the loss function must return a scalar loss, got ${loss.describe()}`);
        this.#losses[mb] = keep(loss.detach());
        this.#reports[mb] = lo instanceof Tensor ? {} : { ...lo.report };
        if (c.forwardOnly) return undefined;
        // Megatron's schedule: each micro-batch's loss counts 1/m, so gradients are the mean's.
        const scaled = loss.div(c.numMicroBatches);
        return c.config.gradScale ? c.config.gradScale(scaled) : scaled;
      });
    let out: Tensor | undefined;
    try {
      model.setInputTensor?.(input);
      out = c.forwardOnly ? noGrad(body) : body();
    } catch (err) {
      if (err instanceof PipelineError) throw err;
      throw new PipelineError(`${this.#where(chunk, mb)}: forward failed: ${(err as Error).message}`, { cause: err });
    } finally {
      model.setInputTensor?.(undefined);
    }
    if (out) this.#outputs.set(k, keep(out));
    if (c.forwardOnly) {
      input?.dispose();
      this.#inputs.delete(k);
    }
  }

  #backward(chunk: number, mb: number): void {
    const k = key(chunk, mb);
    const what = () => label(chunk, mb, this.#v);
    const output = take(this.#outputs, k, () => `the output of ${what()}`);
    const input = this.#inputs.get(k);
    this.#inputs.delete(k);
    const grad = this.#isLastVirtual(chunk) ? undefined : take(this.#outputGrads, k, () => `the output gradient of ${what()}`);
    try {
      // Every backward of a chunk but its last leaves the data-parallel reduction for later.
      const done = ++(this.#backwards[chunk] as number);
      const sync = this.#gradSync[chunk];
      const run = () => runBackwardMany([output], [grad]);
      if (sync && done < this.#c.numMicroBatches) sync.noSync(run);
      else run();
      if (input && !this.#isFirstVirtual(chunk)) {
        // An output that does not depend on the input sends zeros back.
        const g = input.grad ?? noGrad(() => zerosLike(input));
        input.grad = null;
        this.#inputGrads.set(k, keep(g));
      }
    } catch (err) {
      if (err instanceof PipelineError) throw err;
      throw new PipelineError(`${this.#where(chunk, mb)}: backward failed: ${(err as Error).message}`, { cause: err });
    } finally {
      output.dispose();
      grad?.dispose();
      input?.dispose();
    }
  }

  #exchange(ops: readonly CommOp[]): void {
    const p2p = this.#c.p2p;
    if (!p2p) throw new PipelineError('schedule bug: an exchange with one stage');
    const messages: StageMessage[] = [];
    const afterSend: (() => void)[] = [];
    const received: [Map<string, Tensor>, string, Tensor][] = [];
    try {
      for (const op of ops) {
        const k = key(op.chunk, op.microBatch);
        const what = `${op.payload === 'activation' ? 'activation' : 'gradient'} of ${label(op.chunk, op.microBatch, this.#v)}`;
        if (op.op === 'send' && op.payload === 'activation') {
          const out = this.#outputs.get(k);
          if (!out) throw new PipelineError(`schedule bug: the output of ${label(op.chunk, op.microBatch, this.#v)} is not there to send`);
          messages.push({ op: 'send', peer: op.peer, tensor: out, what });
          afterSend.push(() => {
            if (this.#c.forwardOnly) {
              this.#outputs.delete(k);
              out.dispose();
            } else if (this.#c.config.deallocateOutputs ?? true) releaseTensorData(out);
          });
        } else if (op.op === 'send') {
          const g = take(this.#inputGrads, k, () => `the input gradient of ${label(op.chunk, op.microBatch, this.#v)}`);
          messages.push({ op: 'send', peer: op.peer, tensor: g, what });
          afterSend.push(() => g.dispose());
        } else {
          const buf = p2p.buffer();
          const map = op.payload === 'activation' ? this.#received : this.#outputGrads;
          received.push([map, k, buf]);
          messages.push({ op: 'recv', peer: op.peer, tensor: buf, what });
        }
      }
      p2p.exchange(messages);
    } catch (err) {
      for (const [, , buf] of received) buf.dispose();
      throw err;
    } finally {
      for (const f of afterSend) f();
    }
    for (const [map, k, buf] of received) {
      // A received activation is a leaf that collects the gradient to send back.
      if (map === this.#received && !this.#c.forwardOnly) buf.requiresGrad = true;
      map.set(k, buf);
    }
  }

  #result(): ForwardBackwardResult | undefined {
    if (this.#c.pipelineRank !== this.#c.pipelineSize - 1) return undefined;
    const losses = Array.from({ length: this.#c.numMicroBatches }, (_, i) => this.#losses[i]?.item() ?? Number.NaN);
    return { loss: losses.reduce((a, b) => a + b, 0) / losses.length, losses, reports: this.#reports };
  }

  #dispose(): void {
    for (const t of this.#received.values()) t.dispose();
    for (const t of this.#inputs.values()) t?.dispose();
    for (const t of this.#outputs.values()) t.dispose();
    for (const t of this.#outputGrads.values()) t.dispose();
    for (const t of this.#inputGrads.values()) t.dispose();
    for (const t of this.#losses) t?.dispose();
    this.#received.clear();
    this.#inputs.clear();
    this.#outputs.clear();
    this.#outputGrads.clear();
    this.#inputGrads.clear();
  }
}
