import { describe, expect, test } from "vitest";
import {
  formatPlan,
  formatSummary,
  planPipeline,
  runPipeline,
  StageFailedError,
} from "../src/run-pipeline.js";
import type { Stage, StageCheck, StageRunParams } from "../src/stage.js";

/** A stage over an in-memory "output": complete when `done` reaches `need`. */
function fakeStage(
  name: string,
  opts: { done?: number; need?: number; fail?: string; lazy?: boolean; changed?: string } = {},
) {
  const state = {
    done: opts.done ?? 0,
    need: opts.need ?? 3,
    changed: opts.changed,
    runs: [] as StageRunParams["resume"][],
    overwrites: [] as boolean[],
  };
  const stage: Stage & { state: typeof state } = {
    name,
    state,
    describe: () => `${name}: makes ${state.need} things`,
    outputs: () => [`out/${name}`],
    command: () => `laion-trainer ${name}`,
    check: async (): Promise<StageCheck> => ({
      complete: state.done >= state.need && !state.changed,
      partial: state.done > 0 && state.done < state.need,
      ...(state.changed ? { changed: state.changed } : {}),
      detail: `${state.done}/${state.need}`,
    }),
    run: async ({ resume, overwrite }) => {
      state.runs.push(resume);
      state.overwrites.push(overwrite);
      state.changed = undefined;
      if (opts.fail) throw new Error(opts.fail);
      // a lazy stage returns without finishing its outputs
      if (!opts.lazy) state.done = state.need;
    },
  };
  return stage;
}

const quiet = () => {};

describe("runPipeline", () => {
  test("runs stages in order, skips complete ones, resumes partial ones", async () => {
    const order: string[] = [];
    const a = fakeStage("fetch", { done: 3 });
    const b = fakeStage("download", { done: 1 });
    const c = fakeStage("train", { done: 0 });
    for (const s of [a, b, c]) {
      const run = s.run;
      s.run = async (p) => {
        order.push(s.name);
        return run(p);
      };
    }
    const summary = await runPipeline({
      stages: [a, b, c],
      rerunCommand: "laion-trainer kaggle",
      log: quiet,
    });
    expect(order).toEqual(["download", "train"]);
    expect(a.state.runs).toEqual([]);
    expect(b.state.runs).toEqual([true]);
    expect(c.state.runs).toEqual([false]);
    expect(summary.stages.map((s) => s.status)).toEqual(["skipped", "resumed", "ran"]);
    expect(summary.ok).toBe(true);
  });

  test("force runs complete stages again, from scratch", async () => {
    const a = fakeStage("fetch", { done: 3 });
    const summary = await runPipeline({ stages: [a], rerunCommand: "x", log: quiet, force: true });
    expect(a.state.runs).toEqual([false]);
    expect(summary.stages[0]!.status).toBe("ran");
  });

  test("a failing stage stops the run, names the stage and prints how to resume", async () => {
    const a = fakeStage("fetch");
    const b = fakeStage("download", { fail: "connection refused" });
    const c = fakeStage("train");
    const err = await runPipeline({
      stages: [a, b, c],
      rerunCommand: 'npx nx run trainer:kaggle --args="--laion"',
      log: quiet,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StageFailedError);
    const failed = err as StageFailedError;
    expect(failed.stage).toBe("download");
    expect(failed.message).toContain('stage "download" failed: connection refused');
    expect(failed.message).toContain('npx nx run trainer:kaggle --args="--laion"');
    expect(failed.message).toContain("laion-trainer download");
    expect(c.state.runs).toEqual([]);
    expect(failed.summary.stages.map((s) => s.status)).toEqual(["ran", "failed", "not run"]);
    expect(formatSummary(failed.summary)).toContain("FAILED");
  });

  test("a stage that returns without complete outputs counts as failed", async () => {
    const a = fakeStage("train-vq", { lazy: true });
    const err = (await runPipeline({ stages: [a], rerunCommand: "x", log: quiet }).catch((e) => e)) as Error;
    expect(err).toBeInstanceOf(StageFailedError);
    expect(err.message).toContain("outputs are incomplete: 0/3");
  });

  test("summary lists every stage with its status, seconds and outputs", async () => {
    let t = 0;
    const now = () => (t += 500);
    const summary = await runPipeline({
      stages: [fakeStage("fetch", { done: 3 }), fakeStage("train")],
      rerunCommand: "x",
      log: quiet,
      now,
    });
    const text = formatSummary(summary);
    expect(text).toMatch(/fetch\s+skipped\s+-\s+out\/fetch/);
    expect(text).toMatch(/train\s+ran\s+\d+\.\d\s+out\/train/);
    expect(text).not.toContain("Trained on");
  });

  test("the summary says what each training stage that ran trained on", async () => {
    const vq = { ...fakeStage("train-vq"), ranOn: () => "wasm, 2 threads" };
    const train = { ...fakeStage("train", { done: 3 }), ranOn: () => "webgpu, 1 thread" };
    const summary = await runPipeline({ stages: [vq, train], rerunCommand: "x", log: quiet });
    expect(summary.stages.map((s) => s.device)).toEqual(["wasm, 2 threads", undefined]); // train was skipped
    expect(formatSummary(summary)).toMatch(/^Trained on: train-vq wasm, 2 threads$/m);
  });
});

test("a stage whose settings or inputs changed runs again with overwrite, and the summary says why", async () => {
  const fetch = fakeStage("fetch", { done: 3 });
  const vq = fakeStage("train-vq", { done: 3, changed: "laion_prob 0 → 0.5" });
  const lines: string[] = [];
  const summary = await runPipeline({ stages: [fetch, vq], rerunCommand: "x", log: (l) => lines.push(l) });
  expect(vq.state.runs).toEqual([false]);
  expect(vq.state.overwrites).toEqual([true]);
  expect(summary.stages.map((s) => s.status)).toEqual(["skipped", "reran"]);
  expect(lines.join("\n")).toContain("[train-vq] rerunning (laion_prob 0 → 0.5)");
  expect(formatSummary(summary)).toContain("  train-vq: laion_prob 0 → 0.5");
  expect((await planPipeline({ stages: [fakeStage("t", { done: 3, changed: "x 1 → 2" })] }))[0]!.action).toBe(
    "rerun",
  );
});

describe("planPipeline (--dry-run)", () => {
  test("says what each stage would do without running any", async () => {
    const stages = [fakeStage("fetch", { done: 3 }), fakeStage("download", { done: 2 }), fakeStage("train")];
    const plan = await planPipeline({ stages });
    expect(plan.map((p) => p.action)).toEqual(["skip", "resume", "run"]);
    expect(stages.every((s) => s.state.runs.length === 0)).toBe(true);
    const text = formatPlan(plan);
    expect(text).toContain("1. fetch     skip    3/3");
    expect(text).toContain("2. download  resume  2/3");
    expect(text).toContain("alone: laion-trainer train");
  });
});
