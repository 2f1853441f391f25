import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";
import { expect, test } from "vitest";
import { applyOverrides, parseConfig } from "../src/config.js";
import { renderReport } from "../src/report.js";
import { trainMultimodal } from "../src/train.js";
import { cpuTf } from "./helpers.js";

// The seed's scale setting, laion_prob 0.9: text_only_prob decides how little the Sinhala text gets.
const base = () =>
  parseConfig({
    output_dir: fs.mkdtempSync(path.join(os.tmpdir(), "mix-share-")),
    model: { preset: "tiny", seq_len: 32, text_vocab: 320 },
    data: {
      corpus: [fixturePath("sinhala", "corpus.txt")],
      captions: fixturePath("explicit_media", "captions.json"),
      image_root: fixturePath("explicit_media"),
    },
    training: { laion_path: fixturePath("webdataset", "sample.tgz"), laion_prob: 0.9, text_only_prob: 0.5 },
  });

test("--text-only-prob overrides training.text_only_prob; the dry run shows each source's share of steps", async () => {
  const tf = await cpuTf();
  const lines: string[] = [];
  const cfg = applyOverrides(base(), { textOnlyProb: 0.8 });
  expect(cfg.training.text_only_prob).toBe(0.8);
  const r = await trainMultimodal({ config: cfg, tf, dryRun: true, log: (m) => lines.push(m) });
  expect(r.plan.mixture.text).toBeCloseTo(0.08, 10);
  expect(lines.join("\n")).toMatch(
    /mixture\s+laion 90\.0%, text 8\.0%, local 2\.0% of steps \(laion_prob 0\.9, text_only_prob 0\.8;/,
  );
  expect(() => applyOverrides(base(), { textOnlyProb: 1.5 })).toThrow(/text_only_prob/);
});

test("report.html has a mixture table with each source's share", async () => {
  const html = await renderReport({
    title: "t",
    metrics: [],
    samples: [],
    plan: "",
    mixture: { laion: 0.9, text: 0.05, local: 0.05 },
  });
  expect(html).toContain("<h2>Mixture (share of steps)</h2>");
  expect(html).toMatch(/<td>text<\/td><td>5\.0 %<\/td>/);
  expect(html).toMatch(/<td>laion<\/td><td>90\.0 %<\/td>/);
});
