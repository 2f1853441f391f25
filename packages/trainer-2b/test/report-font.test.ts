import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, test } from "vitest";
import { renderReport } from "../src/report.js";
import { fontFace, fullSinhalaFont, sinhalaCharacters, sinhalaFontFace } from "../src/report-font.js";

const SINHALA = "ශ්‍රී ලංකාව පූසා පැටියෙක්";

test("report.html embeds the Sinhala font cut to the page's characters, used first for Sinhala text", async () => {
  const html = await renderReport({
    title: "t",
    metrics: [],
    samples: [{ kind: "text", prompt: SINHALA, output: SINHALA }],
    plan: "",
  });
  const face =
    /@font-face\{font-family:"Noto Sans Sinhala";[^}]*src:url\(data:font\/woff2;base64,([A-Za-z0-9+/=]+)\)/.exec(
      html,
    );
  expect(face).not.toBeNull();
  const font = Buffer.from(face![1]!, "base64");
  expect(font.subarray(0, 4).toString("latin1")).toBe("wOF2");
  // a real font (glyph outlines for the text), far smaller than the whole Sinhala block
  expect(font.length).toBeGreaterThan(2_000);
  expect(font.length).toBeLessThan(fullSinhalaFont().length / 2);
  expect(html).toMatch(/body\{font-family:"Noto Sans Sinhala",/);
  expect(html).toContain("SIL Open Font License 1.1"); // the licence notice travels with the font
});

test("the cut covers the page's Sinhala characters (with the joiners and the dotted circle), nothing else", async () => {
  expect(sinhalaCharacters("ශ්‍රී a ශ")).toBe(["\u200D", "\u25CC", ..."ශ්රී"].sort().join(""));
  expect(sinhalaCharacters("plain ascii")).toBe("\u25CC");
  // more characters, more glyphs
  const small = await sinhalaFontFace("ශ්‍රී");
  const large = await sinhalaFontFace(SINHALA);
  expect(large.length).toBeGreaterThan(small.length);
});

// Headless Chromium (Debian's `chromium`, installed by tools/scripts/install-chromium.sh in .ci/run).
const chromium = ["chromium", "chromium-browser", "google-chrome"].find((bin) => {
  try {
    execFileSync(bin, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});

/** Grey pixels of `text` drawn at 48 px by headless Chromium with the given `@font-face` ("" = none). */
async function screenshot(text: string, face: string): Promise<Uint8Array> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "report-font-"));
  const page = path.join(dir, "page.html");
  // A family name no machine has: without the embed, Chromium falls back to whatever is installed.
  const style = `${face}body{margin:8px;font:48px "Noto Sans Sinhala","no-such-font",monospace}`;
  fs.writeFileSync(page, `<!doctype html><meta charset="utf-8"><style>${style}</style><span>${text}</span>`);
  const png = path.join(dir, "shot.png");
  execFileSync(
    chromium!,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--hide-scrollbars",
      "--virtual-time-budget=3000",
      "--window-size=900,120",
      `--screenshot=${png}`,
      `file://${page}`,
    ],
    { stdio: "ignore", timeout: 60_000 },
  );
  const { data } = await sharp(png).greyscale().raw().toBuffer({ resolveWithObject: true });
  fs.rmSync(dir, { recursive: true, force: true });
  return data;
}

const meanAbsDiff = (a: Uint8Array, b: Uint8Array) => {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
};

describe.skipIf(!chromium && !process.env["CI"])("report.html in headless Chromium", () => {
  test("Sinhala is drawn with glyphs, not the boxes of a missing font", async () => {
    expect(chromium, "chromium is not installed (tools/scripts/install-chromium.sh)").toBeDefined();
    // U+0D80 is unassigned inside the Sinhala block: every font draws it as a missing-glyph box,
    // so a line of them is what "tofu" looks like at this size, with the embedded font active.
    const tofu = "\u0D80".repeat([...SINHALA].length);
    const cut = await sinhalaFontFace(SINHALA);
    const [glyphs, boxes, full] = await Promise.all([
      screenshot(SINHALA, cut),
      screenshot(tofu, cut),
      screenshot(SINHALA, fontFace(fullSinhalaFont())),
    ]);
    expect(meanAbsDiff(glyphs, boxes)).toBeGreaterThan(2);
    // The cut draws the text exactly as the whole font does (conjuncts such as ශ්‍රී included) ...
    expect(meanAbsDiff(glyphs, full)).toBeLessThan(0.05);
    // ... while a cut for other characters does not: the comparison can tell a missing glyph.
    const wrongCut = await screenshot(SINHALA, await sinhalaFontFace("අ"));
    expect(meanAbsDiff(wrongCut, full)).toBeGreaterThan(0.5);
    // And the embed is what makes the difference here: the same text without it is no closer to
    // real glyphs than boxes are, on a machine without a Sinhala font (the usual case).
    const noEmbed = await screenshot(SINHALA, "");
    expect(meanAbsDiff(glyphs, noEmbed)).toBeGreaterThan(2);
    // five Chromium launches, one after another (execFileSync), each allowed 60 s: 63 s in all at a load
    // of 16 (session 7), too close to the 120 s this test had
  }, 300_000);
});
