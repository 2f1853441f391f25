/** What a stage finds when it looks at its outputs before running. */
export interface StageCheck {
  /** Outputs exist and are valid: the stage is skipped. */
  complete: boolean;
  /** Something from an earlier run is there (temp files, some shards, a checkpoint short of max_steps): the stage resumes. */
  partial: boolean;
  /** One line saying what was found, e.g. "3/20 shards", "checkpoint at step 40/200". */
  detail: string;
}

export interface StageRunParams {
  /** True when `check()` found a partial earlier run: the stage passes its package's own resume flag. */
  resume: boolean;
  /** Where progress lines go (the app's log). */
  log: (line: string) => void;
}

/**
 * One step of the pipeline (fetch, download, train-vq, train). A stage is a thin adapter over a
 * package's library function: it knows its outputs, how to tell whether they are complete, and the
 * command that runs it alone (shown when it fails, so the user can resume by hand).
 */
export interface Stage {
  name: string;
  /** One line for the plan: what it reads and writes. */
  describe(): string;
  /** Paths a user looks at afterwards (printed in the summary). */
  outputs(): string[];
  check(): Promise<StageCheck>;
  run(params: StageRunParams): Promise<void>;
  /** The shell command that runs this stage alone with the same settings. */
  command(): string;
}
