import { withV8Flags } from "@laion/cli-kit";
import type { Stage, StageCheck } from "./stage.js";

export type StageStatus = "ran" | "reran" | "resumed" | "skipped" | "failed" | "not run";

export interface StageReport {
  name: string;
  status: StageStatus;
  seconds: number;
  /** What check() found before the stage ran (or why it was skipped). */
  detail: string;
  /** Why a stage ran again although it had an output ("train-vq: laion_prob 0 → 0.5"). */
  reason?: string;
  /** What a training stage ran on ("wasm, 2 threads"). */
  device?: string;
  outputs: string[];
}

export interface PipelineSummary {
  stages: StageReport[];
  seconds: number;
  ok: boolean;
}

/** A stage failed: names the stage and carries the commands that resume the run. */
export class StageFailedError extends Error {
  readonly exitCode = 1;
  constructor(
    readonly stage: string,
    readonly rerunCommand: string,
    readonly stageCommand: string,
    readonly summary: PipelineSummary,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      `stage "${stage}" failed: ${reason}\n` +
        `Finished stages are kept. To resume, run the same command again:\n  ${rerunCommand}\n` +
        `or this stage alone:\n  ${stageCommand}`,
      { cause },
    );
    this.name = "StageFailedError";
  }
}

export interface RunPipelineParams {
  stages: Stage[];
  /** The command that reruns the whole pipeline (printed when a stage fails). */
  rerunCommand: string;
  log?: (line: string) => void;
  /** Run stages even when their outputs are complete. */
  force?: boolean;
  /** Injectable clock (tests). */
  now?: () => number;
}

/**
 * Runs the stages in order. A stage whose outputs are complete is skipped; one with a partial earlier
 * run is resumed (its package's resume flag); a failing stage stops the run with a StageFailedError
 * that names it and says how to resume. After a stage runs its outputs are checked again, so a stage
 * that "succeeds" without producing what the next one needs is reported here, not two stages later.
 */
export async function runPipeline(params: RunPipelineParams): Promise<PipelineSummary> {
  const log = params.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = params.now ?? (() => performance.now());
  const start = now();
  const reports: StageReport[] = params.stages.map((s) => ({
    name: s.name,
    status: "not run",
    seconds: 0,
    detail: "",
    outputs: s.outputs(),
  }));
  const summary = (): PipelineSummary => ({
    stages: reports,
    seconds: (now() - start) / 1000,
    ok: reports.every((r) => r.status !== "failed"),
  });

  for (const [i, stage] of params.stages.entries()) {
    const report = reports[i]!;
    const t0 = now();
    try {
      const found = await stage.check();
      report.detail = found.detail;
      if (found.changed !== undefined) report.reason = found.changed;
      if (found.complete && !params.force) {
        report.status = "skipped";
        log(`[${stage.name}] skipped: outputs complete (${found.detail})`);
        continue;
      }
      const overwrite = found.changed !== undefined;
      const resume = found.partial && !params.force && !overwrite;
      const doing = overwrite
        ? `rerunning (${found.changed})`
        : resume
          ? `resuming (${found.detail})`
          : "running";
      log(`[${stage.name}] ${doing}: ${stage.describe()}`);
      // the stage's package's run-time V8 flags (its bin's) while it runs; V8's defaults for the next
      await withV8Flags(stage.runtime?.v8Flags ?? [], () =>
        stage.run({ resume, overwrite, log: (line) => log(`[${stage.name}] ${line}`) }),
      );
      const device = stage.ranOn?.();
      if (device) report.device = device;
      // the stages after this one see its new output through their own check (input identities)
      const after = await stage.check();
      if (!after.complete && !after.settled)
        throw new Error(`it finished but its outputs are incomplete: ${after.detail}`);
      report.status = overwrite ? "reran" : resume ? "resumed" : "ran";
      report.detail = after.detail;
      report.seconds = (now() - t0) / 1000;
      log(`[${stage.name}] done in ${report.seconds.toFixed(1)} s (${after.detail})`);
    } catch (error) {
      report.status = "failed";
      report.seconds = (now() - t0) / 1000;
      throw new StageFailedError(stage.name, params.rerunCommand, stage.command(), summary(), error);
    }
  }
  return summary();
}

export interface PlannedStage {
  name: string;
  action: "run" | "rerun" | "resume" | "skip";
  check: StageCheck;
  describe: string;
  command: string;
}

/** What runPipeline would do, without running anything (for --dry-run). */
export async function planPipeline(params: { stages: Stage[]; force?: boolean }): Promise<PlannedStage[]> {
  const plan: PlannedStage[] = [];
  for (const stage of params.stages) {
    const check = await stage.check();
    const action = params.force
      ? "run"
      : check.changed !== undefined
        ? "rerun"
        : check.complete
          ? "skip"
          : check.partial
            ? "resume"
            : "run";
    plan.push({ name: stage.name, action, check, describe: stage.describe(), command: stage.command() });
  }
  return plan;
}

export function formatPlan(plan: PlannedStage[]): string {
  const width = Math.max(...plan.map((p) => p.name.length));
  const lines = ["Stage plan:"];
  for (const [i, p] of plan.entries()) {
    lines.push(`  ${i + 1}. ${p.name.padEnd(width)}  ${p.action.padEnd(6)}  ${p.check.detail}`);
    if (i > 0 && p.action === "skip" && plan.slice(0, i).some((q) => q.action !== "skip"))
      lines.push(`     ${" ".repeat(width)}  (runs again if the stages before it change its inputs)`);
    lines.push(`     ${" ".repeat(width)}  ${p.describe}`);
    lines.push(`     ${" ".repeat(width)}  alone: ${p.command}`);
  }
  return lines.join("\n");
}

export function formatSummary(summary: PipelineSummary): string {
  const width = Math.max(5, ...summary.stages.map((s) => s.name.length));
  const lines = [`Summary (${summary.seconds.toFixed(1)} s${summary.ok ? "" : ", FAILED"}):`];
  lines.push(`  ${"stage".padEnd(width)}  status    seconds  outputs`);
  for (const s of summary.stages) {
    const secs = s.status === "skipped" || s.status === "not run" ? "-" : s.seconds.toFixed(1);
    lines.push(
      `  ${s.name.padEnd(width)}  ${s.status.padEnd(8)}  ${secs.padStart(7)}  ${s.outputs.join(", ")}`,
    );
  }
  const devices = summary.stages.filter((s) => s.device);
  if (devices.length > 0) lines.push(`Trained on: ${devices.map((s) => `${s.name} ${s.device}`).join("; ")}`);
  const reasons = summary.stages.filter((s) => s.status === "reran" && s.reason);
  if (reasons.length > 0) {
    lines.push("Ran again because settings or inputs changed (earlier outputs kept as <out>.prev-<n>):");
    for (const s of reasons) lines.push(`  ${s.name}: ${s.reason}`);
  }
  return lines.join("\n");
}
