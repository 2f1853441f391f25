import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { renderReport } from "../src/report.js";
import { loadSampleSections, readSamplesFile, writeSamplesFile } from "../src/report-samples.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "report-samples-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]);

test("a samples file round-trips, PNG bytes included, and renders as its own report section", async () => {
  const file = path.join(tmp, "samples.json");
  const section = {
    title: "grounded benchmark",
    note: "step 300, load 12",
    samples: [
      {
        kind: "image2caption" as const,
        prompt: "held out (true: a red circle)",
        output: "a red circle",
        png,
      },
      { kind: "caption2image" as const, prompt: "රතු කවයක්", output: "judged red circle left", png: null },
    ],
  };
  writeSamplesFile(file, section);
  expect(readSamplesFile(file)).toEqual(section);
  const html = await renderReport({
    title: "t",
    metrics: [],
    samples: [{ kind: "text", prompt: "p", output: "own sample" }],
    plan: "",
    sections: loadSampleSections([file]),
  });
  const own = html.indexOf("own sample");
  const heading = html.indexOf("<h2>Samples: grounded benchmark</h2>");
  expect(own).toBeGreaterThan(0);
  expect(heading).toBeGreaterThan(own); // after the run's own samples
  expect(html).toContain("step 300, load 12");
  expect(html).toContain(`data:image/png;base64,${Buffer.from(png).toString("base64")}`);
  expect(html).toContain("→ a red circle");
});

test("a missing or malformed samples file is named, and becomes a section saying so instead of failing", () => {
  const bad = path.join(tmp, "bad.json");
  fs.writeFileSync(
    bad,
    JSON.stringify({ format: "laion-report-samples-v1", title: "x", samples: [{ kind: "poem" }] }),
  );
  expect(() => readSamplesFile(bad)).toThrow(/report samples .*bad\.json: samples\.0\.kind/);
  const missing = path.join(tmp, "nope.json");
  expect(() => readSamplesFile(missing)).toThrow(/report samples .*nope\.json: ENOENT/);
  const [section] = loadSampleSections([missing]);
  expect(section).toMatchObject({ title: missing, samples: [] });
  expect(section!.note).toMatch(/ENOENT/);
});
