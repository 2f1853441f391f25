// One image: a single shape of one colour at one of four places, on a plain grey background. The
// size, exact place, shade and background vary per image (seeded), so no two images are the same
// pixels and a model has to read the attributes rather than memorise images.
import type { Rng } from "@laion/mixer";
import sharp from "sharp";
import { type Combo, colourDef, positionDef, type Rgb } from "./attributes.js";
import { outline } from "./geometry.js";

export interface Scene {
  colour: string;
  shape: string;
  position: string;
  /** Image side in pixels. */
  size: number;
  /** Shape centre and half-size, pixels. */
  cx: number;
  cy: number;
  r: number;
  rgb: Rgb;
  background: Rgb;
}

const clamp = (v: number) => Math.max(0, Math.min(255, Math.round(v)));
const between = (rng: Rng, lo: number, hi: number) => lo + (hi - lo) * rng.nextFloat();

/** Draws the per-image variation of a (colour, shape, position) from `rng`. */
export function makeScene(rng: Rng, combo: Combo, position: string, size: number): Scene {
  const pos = positionDef(position);
  const base = colourDef(combo.colour).rgb;
  // The widest outline reaches 1.14 r from the centre (the star), r ≤ 0.21 size: a centre at most
  // 0.255 size from the middle keeps every shape whole (tested); v1 (0.25 + 0.05) cut some off.
  const offset = 0.22 * size;
  const jitter = 0.035 * size;
  const grey = Math.round(between(rng, 222, 242));
  return {
    colour: combo.colour,
    shape: combo.shape,
    position,
    size,
    cx: size / 2 + pos.dx * offset + between(rng, -jitter, jitter),
    cy: size / 2 + pos.dy * offset + between(rng, -jitter, jitter),
    r: size * between(rng, 0.17, 0.21),
    rgb: [
      clamp(base[0] + between(rng, -12, 12)),
      clamp(base[1] + between(rng, -12, 12)),
      clamp(base[2] + between(rng, -12, 12)),
    ],
    background: [grey, grey, grey],
  };
}

const fill = ([r, g, b]: Rgb) => `rgb(${r},${g},${b})`;

export function sceneSvg(scene: Scene): string {
  const points = outline(scene.shape, scene.cx, scene.cy, scene.r)
    .map(([x, y]) => `${x.toFixed(2)},${y.toFixed(2)}`)
    .join(" ");
  const s = scene.size;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${s}" height="${s}" viewBox="0 0 ${s} ${s}"><rect width="${s}" height="${s}" fill="${fill(scene.background)}"/><polygon points="${points}" fill="${fill(scene.rgb)}"/></svg>`;
}

/** The scene as PNG bytes (sharp renders the SVG with librsvg). */
export async function renderScene(scene: Scene): Promise<Uint8Array> {
  const png = await sharp(Buffer.from(sceneSvg(scene)))
    .png()
    .toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}
