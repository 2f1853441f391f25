import { spawnSync } from "node:child_process";
import v8 from "node:v8";
import type { NodeRuntimeSettings } from "@laion/cli-kit";
import { FETCH_RUNTIME } from "@laion/fetch";
import { DOWNLOAD_RUNTIME } from "@laion/shards";
import { afterEach, describe, expect, test, vi } from "vitest";
import {
  inProcessRuntimes,
  missingStartupSettings,
  RELAUNCHED_ENV,
  runsInProcessStages,
} from "../src/process-settings.js";
import { runPipeline } from "../src/run-pipeline.js";
import type { Stage } from "../src/stage.js";
import { downloadStage } from "../src/stage-download.js";
import { fetchStage } from "../src/stage-fetch.js";

// The app runs the fetch and download library functions in its own process: it must run them with the
// settings their bins have (FETCH_RUNTIME, DOWNLOAD_RUNTIME — the one home of each value).

afterEach(() => {
  vi.restoreAllMocks();
});

const root = new URL("../../..", import.meta.url).pathname;
const A: NodeRuntimeSettings = { v8Flags: [], nodeFlags: ["--max-semi-space-size=8"], env: { X_TUNE: "1" } };

describe("missingStartupSettings", () => {
  test("a bare process lacks every start-up setting of the stages; a relaunched one nothing", async () => {
    const runtimes = await inProcessRuntimes();
    expect(runtimes).toEqual([FETCH_RUNTIME, DOWNLOAD_RUNTIME]);
    const startup = {
      nodeFlags: [...FETCH_RUNTIME.nodeFlags, ...DOWNLOAD_RUNTIME.nodeFlags],
      env: { ...FETCH_RUNTIME.env, ...DOWNLOAD_RUNTIME.env },
    };
    expect(startup.nodeFlags.length + Object.keys(startup.env).length).toBeGreaterThan(0);
    expect(missingStartupSettings([], {}, runtimes)).toEqual(startup);
    expect(missingStartupSettings([], { [RELAUNCHED_ENV]: "1" }, runtimes)).toBeNull();
    expect(missingStartupSettings([...startup.nodeFlags], { ...startup.env }, runtimes)).toBeNull();
  });

  test("what the user set is theirs: a node flag of the same name (command line or NODE_OPTIONS), an env var", () => {
    expect(missingStartupSettings(["--max-semi-space-size=16"], {}, [A])).toEqual({
      nodeFlags: [],
      env: { X_TUNE: "1" },
    });
    expect(missingStartupSettings([], { NODE_OPTIONS: "--max_semi_space_size=4" }, [A])).toEqual({
      nodeFlags: [],
      env: { X_TUNE: "1" },
    });
    expect(missingStartupSettings([], { X_TUNE: "0" }, [A])).toEqual({
      nodeFlags: ["--max-semi-space-size=8"],
      env: {},
    });
  });

  test("two stages that want one variable set differently are refused, naming it", () => {
    const B = { ...A, env: { X_TUNE: "2" } };
    expect(() => missingStartupSettings([], {}, [A, B])).toThrow(
      "two stages want X_TUNE set differently: 1 and 2",
    );
  });
});

test("only the commands that may run the fetch or download stage start again; help, version and dry runs do not", () => {
  for (const argv of [["kaggle"], ["--verbose", "demo", "--rows", "20"], ["fetch"], ["download", "--force"]])
    expect(runsInProcessStages(argv), argv.join(" ")).toBe(true);
  for (const argv of [
    [],
    ["train"],
    ["train-vq"],
    ["encode"],
    ["--help"],
    ["kaggle", "--dry-run"],
    ["demo", "-h"],
    ["-V"],
  ])
    expect(runsInProcessStages(argv), argv.join(" ")).toBe(false);
});

test("a command that runs the stages runs with their start-up settings: started without them, it starts again once with them, and ends as that process ends", () => {
  // a module imported before the app (in both processes: node passes its flags on) prints what node was
  // started with; the TypeScript sources run through the workspace's loader
  const probe = `data:text/javascript,${encodeURIComponent(
    'process.stderr.write("probe " + JSON.stringify([process.env, process.execArgv]) + "\\n")',
  )}`;
  const run = spawnSync(
    process.execPath,
    [
      ...["--conditions=@laion/source", "--import", `${root}tools/scripts/ts-loader.mjs`, "--import", probe],
      ...["apps/trainer/src/cli.ts", "fetch", "--no-such-flag"],
    ],
    { cwd: root, encoding: "utf8", env: { ...process.env, [RELAUNCHED_ENV]: "" } },
  );
  // the started-again process refuses the flag and exits 1: so does the first
  expect(run.status, run.stderr).toBe(1);
  expect(run.stderr.split("unknown option '--no-such-flag'")).toHaveLength(2);
  const probes = run.stderr
    .split("\n")
    .filter((l) => l.startsWith("probe "))
    .map((l) => JSON.parse(l.slice(6)) as [NodeJS.ProcessEnv, string[]]);
  expect(probes).toHaveLength(2); // the first process, and the one it started (no more)
  const [env, execArgv] = probes[1]!;
  expect(execArgv).toEqual(
    expect.arrayContaining([...FETCH_RUNTIME.nodeFlags, ...DOWNLOAD_RUNTIME.nodeFlags]),
  );
  for (const [name, value] of Object.entries({ ...FETCH_RUNTIME.env, ...DOWNLOAD_RUNTIME.env }))
    expect(env[name], name).toBe(value);
});

describe("run-time V8 flags per stage", () => {
  const laion = { dir: "data/laion" } as Parameters<typeof fetchStage>[0]["laion"];

  test("the fetch and download stages carry their packages' settings", () => {
    expect(fetchStage({ laion }).runtime).toBe(FETCH_RUNTIME);
    const download = { output: "out" } as Parameters<typeof downloadStage>[0]["download"];
    expect(downloadStage({ laionDir: "data/laion", download }).runtime).toBe(DOWNLOAD_RUNTIME);
  });

  test("set while their stage runs, V8's defaults restored before the next stage, also after a failure", async () => {
    const calls: string[] = [];
    vi.spyOn(v8, "setFlagsFromString").mockImplementation((flags: string) => {
      calls.push(flags);
    });
    const stage = (name: string, runtime?: NodeRuntimeSettings, fail = false): Stage => {
      let done = false;
      return {
        name,
        ...(runtime ? { runtime } : {}),
        describe: () => name,
        outputs: () => [],
        command: () => name,
        check: async () => ({ complete: done, partial: false, detail: "" }),
        run: async () => {
          calls.push(`run ${name}`);
          if (fail) throw new Error("boom");
          done = true;
        },
      };
    };
    await runPipeline({
      stages: [stage("fetch", FETCH_RUNTIME), stage("download", DOWNLOAD_RUNTIME), stage("train")],
      rerunCommand: "x",
      log: () => {},
    });
    const flag = (r: NodeRuntimeSettings, v: "value" | "v8Default") =>
      r.v8Flags.map((f) => `--${f.name}=${f[v]}`);
    expect(calls).toEqual([
      ...flag(FETCH_RUNTIME, "value"),
      "run fetch",
      ...flag(FETCH_RUNTIME, "v8Default"),
      ...flag(DOWNLOAD_RUNTIME, "value"),
      "run download",
      ...flag(DOWNLOAD_RUNTIME, "v8Default"),
      "run train",
    ]);
    calls.length = 0;
    await expect(
      runPipeline({ stages: [stage("download", DOWNLOAD_RUNTIME, true)], rerunCommand: "x", log: () => {} }),
    ).rejects.toThrow();
    expect(calls).toEqual([
      ...flag(DOWNLOAD_RUNTIME, "value"),
      "run download",
      ...flag(DOWNLOAD_RUNTIME, "v8Default"),
    ]);
  });
});
