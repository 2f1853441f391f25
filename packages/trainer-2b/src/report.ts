// report.html: one self-contained file (inline SVG charts, PNGs as data URIs), rewritten at each
// eval from metrics.jsonl, so it is always current and can be opened from a Kaggle output folder.
import fs from "node:fs";
import path from "node:path";
import { writeFileAtomicSync } from "@laion/cli-kit";
import { sinhalaFontFace } from "./report-font.js";
import type { ReportSample, SampleSection } from "./report-samples.js";

export interface MetricRecord {
  type: "train" | "eval";
  step: number;
  loss: number;
  loss_by_source: Record<string, number>;
  loss_by_modality?: Record<string, number>;
  tokens_per_s?: number;
  flops_per_s?: number;
  lr?: number;
  grad_norm?: number;
  /** eval only: unigram baseline (nats/token) per source on the same held-out tokens. */
  baseline_by_source?: Record<string, number>;
}

export type { ReportSample };

const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"];

/** A line chart as an SVG string; `series` maps a label to [x, y] points. */
export function lineChart(title: string, series: Record<string, [number, number][]>, yLabel = ""): string {
  const W = 520;
  const H = 240;
  const pad = { l: 50, r: 110, t: 24, b: 30 };
  const pts = Object.values(series)
    .flat()
    .filter(([, y]) => Number.isFinite(y));
  if (!pts.length)
    return `<svg width="${W}" height="40"><text x="4" y="20">${esc(title)}: no data yet</text></svg>`;
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 1, y1 + 1];
  const sx = (x: number) => pad.l + ((x - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const sy = (y: number) => H - pad.b - ((y - y0) / (y1 - y0)) * (H - pad.t - pad.b);
  const lines = Object.entries(series).map(([name, p], i) => {
    const c = COLORS[i % COLORS.length];
    const d = p
      .filter(([, y]) => Number.isFinite(y))
      .map(([x, y], k) => `${k ? "L" : "M"}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
      .join("");
    return `<path d="${d}" fill="none" stroke="${c}" stroke-width="1.5"/><text x="${W - pad.r + 6}" y="${pad.t + 14 * i + 10}" fill="${c}" font-size="11">${esc(name)}</text>`;
  });
  const ticks = [y0, (y0 + y1) / 2, y1]
    .map(
      (y) =>
        `<text x="${pad.l - 4}" y="${sy(y) + 4}" text-anchor="end" font-size="10">${y.toPrecision(3)}</text>`,
    )
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<text x="${pad.l}" y="14" font-size="13">${esc(title)}</text>
<rect x="${pad.l}" y="${pad.t}" width="${W - pad.l - pad.r}" height="${H - pad.t - pad.b}" fill="none" stroke="#ccc"/>
${ticks}<text x="${pad.l}" y="${H - 8}" font-size="10">step ${x0}</text><text x="${W - pad.r}" y="${H - 8}" text-anchor="end" font-size="10">${x1}</text>
<text x="4" y="${pad.t - 4}" font-size="10">${esc(yLabel)}</text>${lines.join("")}</svg>`;
}

export function readMetrics(file: string): MetricRecord[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as MetricRecord);
}

function bySource(records: MetricRecord[], withBaseline = false): Record<string, [number, number][]> {
  const out: Record<string, [number, number][]> = {};
  const push = (k: string, p: [number, number]) => {
    const list = out[k] ?? [];
    list.push(p);
    out[k] = list;
  };
  for (const r of records) {
    push("total", [r.step, r.loss]);
    for (const [k, v] of Object.entries(r.loss_by_source)) push(k, [r.step, v]);
    if (withBaseline) {
      for (const [k, v] of Object.entries(r.baseline_by_source ?? {})) push(`${k} unigram`, [r.step, v]);
    }
  }
  return out;
}

function sampleCards(samples: ReportSample[]): string {
  return samples
    .map((s) => {
      const img = s.png
        ? `<img src="data:image/png;base64,${Buffer.from(s.png).toString("base64")}" width="128" height="128">`
        : "";
      return `<div class="sample"><b>${esc(s.kind)}</b><div>${img}</div><div><i>${esc(s.prompt)}</i></div><div>→ ${esc(s.output)}</div></div>`;
    })
    .join("");
}

/**
 * The report page: self-contained, with Noto Sans Sinhala cut to the characters the page shows
 * (report-font.ts), so its Sinhala draws as glyphs on a machine without a Sinhala font.
 */
export async function renderReport(params: {
  title: string;
  metrics: MetricRecord[];
  samples: ReportSample[];
  plan: string;
  /** Each source's effective share of steps (laion p, text (1−p)·t, local (1−p)·(1−t)). */
  mixture?: Record<string, number>;
  /** Samples from elsewhere (training.report_samples: e.g. the grounded benchmark's), after the run's own. */
  sections?: SampleSection[];
}): Promise<string> {
  const train = params.metrics.filter((m) => m.type === "train");
  const evals = params.metrics.filter((m) => m.type === "eval");
  const charts = [
    lineChart("train loss by source (nats/token)", bySource(train)),
    lineChart("held-out loss by source vs unigram baseline", bySource(evals, true)),
    lineChart("learning rate", { lr: train.map((m) => [m.step, m.lr ?? Number.NaN]) }),
    lineChart("throughput (tokens/s)", {
      "tokens/s": train.map((m) => [m.step, m.tokens_per_s ?? Number.NaN]),
    }),
    lineChart("gradient norm (before clip)", {
      "grad norm": train.map((m) => [m.step, m.grad_norm ?? Number.NaN]),
    }),
  ];
  const last = evals.at(-1);
  const table = last
    ? `<table><tr><th>source</th><th>held-out loss</th><th>unigram baseline</th></tr>${Object.entries(
        last.loss_by_source,
      )
        .map(
          ([k, v]) =>
            `<tr><td>${esc(k)}</td><td>${v.toFixed(3)}</td><td>${(last.baseline_by_source?.[k] ?? Number.NaN).toFixed(3)}</td></tr>`,
        )
        .join("")}</table>`
    : "<p>no evaluation yet</p>";
  const mixture = params.mixture
    ? `<h2>Mixture (share of steps)</h2><table><tr><th>source</th><th>share</th></tr>${Object.entries(
        params.mixture,
      )
        .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${(100 * v).toFixed(1)} %</td></tr>`)
        .join("")}</table>`
    : "";
  const samples = sampleCards(params.samples);
  const sections = (params.sections ?? [])
    .map(
      (s) =>
        `<h2>Samples: ${esc(s.title)}</h2>${s.note ? `<p>${esc(s.note)}</p>` : ""}${sampleCards(s.samples) || "<p>none</p>"}`,
    )
    .join("");
  const page = `<!doctype html><html><head><meta charset="utf-8"><title>${esc(params.title)}</title>
<style>${FONT_SLOT}
body{font-family:"Noto Sans Sinhala",system-ui,sans-serif;margin:20px;max-width:1150px}.charts{display:flex;flex-wrap:wrap;gap:12px}
.sample{display:inline-block;vertical-align:top;width:260px;margin:6px;padding:6px;border:1px solid #ddd}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px}pre{background:#f6f6f6;padding:8px}</style></head>
<body><h1>${esc(params.title)}</h1><p>step ${train.at(-1)?.step ?? 0}, updated ${new Date().toISOString()}</p>
${mixture}<h2>Held-out loss (last eval)</h2>${table}<h2>Curves</h2><div class="charts">${charts.join("")}</div>
<h2>Samples</h2>${samples || "<p>none yet</p>"}${sections}<h2>Plan</h2><pre>${esc(params.plan)}</pre></body></html>`;
  // every character on the page (text outside the font's range is ignored by the cut)
  return page.replace(FONT_SLOT, await sinhalaFontFace(page));
}

const FONT_SLOT = "/*@font-face*/";

export function writeReport(dir: string, html: string): void {
  writeFileAtomicSync(path.join(dir, "report.html"), html);
}
