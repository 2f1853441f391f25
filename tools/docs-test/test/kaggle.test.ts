// apps/trainer/kaggle/: what can be checked without a GPU or the internet. The notebook's shell
// commands are parsed by our CLIs in docs.test.ts (like the docs'); here: the notebook's format and
// Python, shellcheck on the setup script and the notebook's bash cells, the setup script's decisions
// (--dry-run, with and without an NVIDIA GPU on PATH), and the CUDA 11 pins against @laion/vq's list.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CUDA_LIBRARIES } from "@laion/vq";
import { describe, expect, test } from "vitest";
import { notebookBlocks, notebookPython, readNotebook } from "../src/extract.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const dir = path.join(root, "apps/trainer/kaggle");
const notebookFile = path.join(dir, "laion-kaggle.ipynb");
const setup = path.join(dir, "setup.sh");
const has = (program: string) => spawnSync("sh", ["-c", `command -v ${program}`]).status === 0;

describe("the notebook", () => {
  const nb = readNotebook(notebookFile);

  test("is nbformat 4 with a Python kernel, committed without outputs", () => {
    expect(nb.nbformat).toBe(4);
    expect(nb.metadata.kernelspec?.language).toBe("python");
    const code = nb.cells.filter((c) => c.cell_type === "code");
    expect(code.length).toBeGreaterThan(0);
    expect(code.flatMap((c) => c.outputs ?? [])).toEqual([]);
  });

  test("runs the setup script, then the kaggle target with LAION", () => {
    const commands = notebookBlocks("nb", nb).map((b) => b.code);
    expect(commands.some((c) => c.includes("bash apps/trainer/kaggle/setup.sh"))).toBe(true);
    expect(commands.some((c) => c.includes('npx nx run trainer:kaggle --args="--laion"'))).toBe(true);
  });

  test("a notebook missing nbformat fields is refused, naming the cell", () => {
    const broken = JSON.stringify({ ...nb, cells: [{ cell_type: "code", source: "x", metadata: {} }] });
    expect(() => readNotebook("broken.ipynb", broken)).toThrow(
      /broken\.ipynb: .*cell 1: a code cell needs outputs/,
    );
    expect(() => readNotebook("x.ipynb", "{")).toThrow(/x\.ipynb: not JSON/);
  });

  test.skipIf(!has("python3"))("its Python cells parse (python3 ast)", () => {
    for (const { cell, code } of notebookPython(nb)) {
      const r = spawnSync("python3", ["-c", "import ast,sys; ast.parse(sys.stdin.read())"], { input: code });
      expect({ cell, stderr: String(r.stderr) }).toEqual({ cell, stderr: "" });
    }
  });
});

// .ci/run installs shellcheck (tools/scripts/install-shellcheck.sh); elsewhere this is skipped, and says so.
const shellcheck = has("shellcheck");
if (!shellcheck)
  console.warn("kaggle.test: shellcheck is not installed: skipped (apt-get install shellcheck, or .ci/run)");
describe.skipIf(!shellcheck)("shellcheck", () => {
  test("setup.sh, tools/scripts/*.sh and .ci/run", () => {
    const scripts = fs
      .readdirSync(path.join(root, "tools/scripts"))
      .filter((f) => f.endsWith(".sh"))
      .map((f) => path.join(root, "tools/scripts", f));
    const r = spawnSync("shellcheck", [setup, ...scripts, path.join(root, ".ci/run")], { encoding: "utf8" });
    expect(r.stdout).toBe("");
    expect(r.status).toBe(0);
  });

  test("the notebook's bash cells", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "kaggle-cells-"));
    try {
      for (const b of notebookBlocks("nb", readNotebook(notebookFile))) {
        const file = path.join(tmp, `${b.file.replace(/\W/g, "_")}.sh`);
        fs.writeFileSync(file, `#!/usr/bin/env bash\n${b.code}\n`);
        // SC1091: .kaggle/env.sh is written by setup.sh at run time
        const r = spawnSync("shellcheck", ["-e", "SC1091", file], { encoding: "utf8" });
        expect({ cell: b.file, out: r.stdout }).toEqual({ cell: b.file, out: "" });
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe("setup.sh --dry-run", () => {
  /** Runs the script with `nvidia-smi` answering `gpus` (or absent); nothing is installed in a dry run. */
  function dryRun(gpus: string[] | null, ...args: string[]) {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), "kaggle-bin-"));
    if (gpus) {
      const listing = gpus.map((g, i) => `GPU ${i}: ${g} (UUID: GPU-${i})`).join("\\n");
      fs.writeFileSync(path.join(bin, "nvidia-smi"), `#!/bin/sh\nprintf '${listing}\\n'\n`, { mode: 0o755 });
    }
    // PATH: the fake nvidia-smi first; node and the system tools after, but no real nvidia-smi
    const PATH = [bin, path.dirname(process.execPath), "/usr/bin", "/bin"].join(":");
    const tools = path.join(bin, "tools");
    const r = spawnSync("bash", [setup, "--dry-run", "--tools-dir", tools, ...args], {
      encoding: "utf8",
      env: { ...process.env, PATH },
    });
    fs.rmSync(bin, { recursive: true, force: true });
    return { status: r.status, out: `${r.stdout}${r.stderr}`, tools };
  }

  test("two T4s: the CUDA 11 wheels on LD_LIBRARY_PATH, tfjs-node-gpu, Vulkan, a probe that expects a GPU", () => {
    const { status, out, tools } = dryRun(["Tesla T4", "Tesla T4"]);
    expect(status).toBe(0);
    expect(out).toContain("route auto: 2 NVIDIA GPU(s) visible → cuda+vulkan");
    expect(out).toContain("2 GPUs: training uses one; the others stay idle");
    expect(out).toMatch(
      /\+ python3 -m pip install --quiet --no-deps --target \S+\/cuda11 -r \S+cuda11-requirements\.txt/,
    );
    expect(out).toMatch(
      /\+ npm install --no-save --no-audit --no-fund @tensorflow\/tfjs-node-gpu@4\.\d+\.\d+/,
    );
    for (const lib of ["cuda_runtime", "cublas", "cufft", "curand", "cusolver", "cusparse", "cudnn"])
      expect(out).toContain(`${tools}/cuda11/nvidia/${lib}/lib`);
    expect(out).toMatch(/\+ node \S+probe-backend\.mjs --expect-gpu/);
    expect(fs.existsSync(tools)).toBe(false); // a dry run writes nothing
  });

  test("no GPU: no GPU runtime, a probe that accepts the CPU", () => {
    const { status, out } = dryRun(null);
    expect(status).toBe(0);
    expect(out).toContain("route auto: 0 NVIDIA GPU(s) visible → cpu");
    expect(out).not.toContain("pip install");
    expect(out).toMatch(/\+ node \S+probe-backend\.mjs\n/);
  });

  test("--route vulkan alone installs no CUDA libraries", () => {
    const { status, out } = dryRun(["Tesla T4"], "--route", "vulkan");
    expect(status).toBe(0);
    expect(out).toContain("route vulkan (1 NVIDIA GPU(s) visible)");
    expect(out).not.toContain("pip install");
  });

  test("a bad --route is refused, naming the values", () => {
    const { status, out } = dryRun(null, "--route", "gpu");
    expect(status).toBe(2);
    expect(out).toContain('--route must be auto, cuda, vulkan or cpu, got "gpu"');
  });
});

test("cuda11-requirements.txt pins every wheel @laion/vq's tfjs-node-gpu check names, with the same cuDNN", () => {
  const pins = fs
    .readFileSync(path.join(dir, "cuda11-requirements.txt"), "utf8")
    .split("\n")
    .filter((l) => /^nvidia-/.test(l));
  const named = [...new Set(CUDA_LIBRARIES.map((l) => l.wheel).filter((w) => w.startsWith("nvidia-")))];
  for (const wheel of named) {
    const [name, version] = wheel.split("==");
    const pin = pins.find((p) => p.startsWith(`${name}==`));
    expect({ wheel, pin }).toEqual({ wheel, pin: expect.stringMatching(/==\d/) });
    if (version) expect(pin).toBe(wheel);
  }
  // every pin is a CUDA 11 / cuDNN 8 wheel: libtensorflow 2.9 loads the .so.11 / .so.8 sonames
  for (const pin of pins) expect(pin).toMatch(/^nvidia-[a-z-]+-cu11==(11|10|8)\./);
});

test("probe-backend.mjs names the backend and why (this machine: no GPU backend)", () => {
  // the built @laion/vq (the docs test runs after the build, as .ci/run does)
  const out = execFileSync(process.execPath, [path.join(dir, "probe-backend.mjs")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  expect(out).toMatch(/^probe-backend: backend \S+ on .+; .+/m);
  expect(out).toMatch(/^probe-backend: training runs on /m);
}, 60_000);
