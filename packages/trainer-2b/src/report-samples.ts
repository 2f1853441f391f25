// Samples of another run (tools/bench/grounded.bench.mjs writes its held-out samples this way) shown in
// a report beside the run's own: `training.report_samples` lists the files. One JSON file per run,
// PNGs as base64, so it can be committed, copied next to a report, or read back by any tool.
import fs from "node:fs";
import { writeFileAtomicSync } from "@laion/cli-kit";
import { z } from "zod";

export const SAMPLES_FORMAT = "laion-report-samples-v1";

/** One generated sample the report shows. */
export interface ReportSample {
  kind: "text" | "caption2image" | "image2caption";
  prompt: string;
  output: string;
  /** PNG bytes (generated image, or the input image of image2caption). */
  png?: Uint8Array | null;
}

/** A titled set of samples from elsewhere (a benchmark, another run), with a line on where they came from. */
export interface SampleSection {
  title: string;
  note?: string;
  samples: ReportSample[];
}

const fileSchema = z.strictObject({
  format: z.literal(SAMPLES_FORMAT),
  title: z.string(),
  note: z.string().optional(),
  samples: z.array(
    z.strictObject({
      kind: z.enum(["text", "caption2image", "image2caption"]),
      prompt: z.string(),
      output: z.string(),
      png_base64: z.string().nullable().optional(),
    }),
  ),
});

export function writeSamplesFile(file: string, section: SampleSection): void {
  const body: z.input<typeof fileSchema> = {
    format: SAMPLES_FORMAT,
    title: section.title,
    ...(section.note !== undefined ? { note: section.note } : {}),
    samples: section.samples.map((s) => ({
      kind: s.kind,
      prompt: s.prompt,
      output: s.output,
      png_base64: s.png ? Buffer.from(s.png).toString("base64") : null,
    })),
  };
  writeFileAtomicSync(file, `${JSON.stringify(body, null, 1)}\n`);
}

/** Reads a samples file; a missing, unparsable or wrong-format file is an error naming it. */
export function readSamplesFile(file: string): SampleSection {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`report samples ${file}: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`report samples ${file}: ${issue.path.join(".") || "(top)"}: ${issue.message}`);
  }
  const f = parsed.data;
  return {
    title: f.title,
    ...(f.note !== undefined ? { note: f.note } : {}),
    samples: f.samples.map((s) => ({
      kind: s.kind,
      prompt: s.prompt,
      output: s.output,
      png: s.png_base64 ? new Uint8Array(Buffer.from(s.png_base64, "base64")) : null,
    })),
  };
}

/**
 * The sections of `training.report_samples` for a report. A file that cannot be read becomes a section
 * saying so: the report is written at every eval and must not stop training.
 */
export function loadSampleSections(files: readonly string[]): SampleSection[] {
  return files.map((file) => {
    try {
      return readSamplesFile(file);
    } catch (err) {
      return { title: file, note: (err as Error).message, samples: [] };
    }
  });
}
