// The Sinhala font of report.html, cut to what the report shows. A report is opened where no Sinhala
// font is installed (Kaggle, CI), so it carries Noto Sans Sinhala (SIL OFL 1.1, from @fontsource); but
// the whole Sinhala block is 35 kB per report, and a report shows a few dozen distinct characters.
// harfbuzz's subsetter (subset-font) keeps every glyph those characters can shape into (conjuncts,
// vowel-sign forms: its layout closure), so the cut font draws the report's text exactly as the full one.
import fs from "node:fs";
import { createRequire } from "node:module";

const requireCjs = createRequire(import.meta.url);
/**
 * subset-font (CommonJS) ships no types: its v2 call, as used here. Loaded through require so no
 * ambient declaration is needed in the programs that typecheck this package from source.
 */
const subsetFont = requireCjs("subset-font") as (
  font: Uint8Array,
  text: string,
  options: { targetFormat: "sfnt" | "woff" | "woff2" },
) => Promise<Buffer>;

/** What the font covers: the Sinhala block, the joiners its conjuncts use, and the dotted circle. */
const UNICODE_RANGE = "U+0D80-0DFF,U+200C-200D,U+25CC";
const inRange = (cp: number) =>
  (cp >= 0x0d80 && cp <= 0x0dff) || cp === 0x200c || cp === 0x200d || cp === 0x25cc;
// A shaper draws a vowel sign without a base on a dotted circle: generated text can hold one.
const ALWAYS = "\u25CC";

let fullFont: Buffer | undefined;
/** The packaged font file (the Sinhala block, 400 weight, WOFF2), read once per process. */
export function fullSinhalaFont(): Buffer {
  fullFont ??= fs.readFileSync(
    requireCjs.resolve("@fontsource/noto-sans-sinhala/files/noto-sans-sinhala-sinhala-400-normal.woff2"),
  );
  return fullFont;
}

/** The characters of `text` the font covers, once each, sorted: what the subset must draw. */
export function sinhalaCharacters(text: string): string {
  const chars = new Set(ALWAYS);
  for (const c of text) if (inRange(c.codePointAt(0)!)) chars.add(c);
  return [...chars].sort().join("");
}

/** `@font-face` CSS embedding `font` (WOFF2 bytes) for the Sinhala range only; Latin stays system-ui. */
export function fontFace(font: Uint8Array): string {
  const data = Buffer.from(font).toString("base64");
  // The OFL asks that the notice travel with the font (the cut keeps the copyright in its name table too).
  return `/* Noto Sans Sinhala, cut to this page's characters. Copyright 2022 The Noto Project Authors (https://github.com/notofonts/sinhala); SIL Open Font License 1.1 (https://openfontlicense.org) */@font-face{font-family:"Noto Sans Sinhala";font-style:normal;font-weight:400;font-display:block;src:url(data:font/woff2;base64,${data}) format("woff2");unicode-range:${UNICODE_RANGE}}`;
}

// Reports are rewritten at every eval, mostly with the same characters: keep the last cut.
let last: { chars: string; face: string } | undefined;

/** The `@font-face` that draws every Sinhala character of `text`, cut to the glyphs they need. */
export async function sinhalaFontFace(text: string): Promise<string> {
  const chars = sinhalaCharacters(text);
  if (last?.chars !== chars) {
    const subset = await subsetFont(fullSinhalaFont(), chars, { targetFormat: "woff2" });
    last = { chars, face: fontFace(subset) };
  }
  return last.face;
}
