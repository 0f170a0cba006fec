// The pipeline's two errors: a configuration that cannot run (refused before anything runs, naming
// the rule it breaks), and a failure while a schedule runs (naming the stage, the step and the
// peer, with the underlying error as its cause).

/** A pipeline configuration that breaks a rule; `rule` names the rule, for programs and tests. */
export class PipelineConfigError extends Error {
  readonly rule: string;
  constructor(rule: string, message: string) {
    super(`pipeline config: ${message}`);
    this.name = 'PipelineConfigError';
    this.rule = rule;
  }
}

/** A schedule step that failed on this stage (a lost peer, a timeout, a wrong shape, the user's step). */
export class PipelineError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PipelineError';
  }
}

export function positiveInteger(rule: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new PipelineConfigError(rule, `${name} must be a positive integer, got ${String(v)}`);
  return v;
}
