import type { NodeRuntimeSettings, RunStatus } from "@laion/cli-kit";

/** What a stage finds when it looks at its outputs before running (its package's `status()`, mapped). */
export interface StageCheck {
  /** Outputs exist and are valid: the stage is skipped. */
  complete: boolean;
  /** Something from an earlier run is there (temp files, some shards, a checkpoint short of max_steps): the stage resumes. */
  partial: boolean;
  /**
   * The output there was made from other settings or inputs (an upstream stage's output changed): why,
   * e.g. "laion_prob 0 → 0.5". The stage runs again from scratch; its package keeps the old output as
   * `<out>.prev-<n>`.
   */
  changed?: string;
  /** A finished run that a rerun may still improve (download: transient failures to retry). Accepted after running. */
  settled?: boolean;
  /** One line saying what was found, e.g. "3/20 shards", "checkpoint at step 40/200". */
  detail: string;
}

/** A package's status as a StageCheck. */
export function checkFromStatus(status: RunStatus, settled = false): StageCheck {
  return {
    complete: status.state === "complete",
    partial: status.state === "partial",
    ...(status.state === "changed" ? { changed: status.detail } : {}),
    ...(settled ? { settled } : {}),
    detail: status.detail,
  };
}

export interface StageRunParams {
  /** True when `check()` found a partial earlier run: the stage passes its package's own resume flag. */
  resume: boolean;
  /** True when `check()` found `changed`: the package moves the old output aside and starts over. */
  overwrite: boolean;
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
  /** After run(): what a training stage ran on, e.g. "wasm, 2 threads" (for the summary). */
  ranOn?(): string | undefined;
  /** The shell command that runs this stage alone with the same settings. */
  command(): string;
  /**
   * How the stage's package runs it in its bin (FETCH_RUNTIME, DOWNLOAD_RUNTIME): the pipeline sets its
   * `v8Flags` while the stage runs; the start-up settings are the app process's (process-settings.ts).
   */
  runtime?: NodeRuntimeSettings;
}
