// A simple pixel classifier that judges an image (a generated one, decoded through the VQ) by the same
// attributes the captions name: the foreground is what differs from the border's colour; its colour
// is the nearest palette colour to its core pixels, its position the side its centroid lies on, and
// its shape the outline template (geometry.ts, stretched onto the foreground's bounding box) that
// overlaps it best (intersection over union). No training: it reads the generator's own definitions.
import sharp from "sharp";
import { COLOURS, POSITIONS } from "./attributes.js";
import type { ReadAttributes } from "./captions.js";
import { bounds, inside, outline, SHAPE_IDS } from "./geometry.js";

export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  /** 3 (RGB) or 4 (RGBA, alpha ignored). */
  channels: number;
}

export interface Judged extends ReadAttributes {
  /** Foreground pixels found (0: nothing stands out from the background). */
  foreground: number;
  /** IoU of the best shape template, 0–1. */
  shapeFit: number;
}

/** Any image sharp reads → RGB pixels. */
export async function decodeImage(bytes: Uint8Array): Promise<RawImage> {
  const { data, info } = await sharp(bytes).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    channels: info.channels,
  };
}

/** A pixel differs from the background by at least this much (max over channels) to be foreground. */
const MIN_CONTRAST = 40;

function borderMedian(img: RawImage): [number, number, number] {
  const { width: w, height: h, channels: c, data } = img;
  const vals: number[][] = [[], [], []];
  for (let x = 0; x < w; x++)
    for (const y of [0, h - 1]) for (let k = 0; k < 3; k++) vals[k]!.push(data[(y * w + x) * c + k]!);
  for (let y = 1; y < h - 1; y++)
    for (const x of [0, w - 1]) for (let k = 0; k < 3; k++) vals[k]!.push(data[(y * w + x) * c + k]!);
  const med = (v: number[]) => v.sort((a, b) => a - b)[v.length >> 1]!;
  return [med(vals[0]!), med(vals[1]!), med(vals[2]!)];
}

function nearestColour(rgb: [number, number, number]): string {
  let best = COLOURS[0]!;
  let bestD = Number.POSITIVE_INFINITY;
  for (const c of COLOURS) {
    const d = (c.rgb[0] - rgb[0]) ** 2 + (c.rgb[1] - rgb[1]) ** 2 + (c.rgb[2] - rgb[2]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best.id;
}

function bestShape(mask: Uint8Array, w: number, h: number): { shape: string; iou: number } {
  let x0 = w;
  let y0 = h;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      if (mask[y * w + x]) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
  let best = { shape: SHAPE_IDS[0]!, iou: 0 };
  for (const shape of SHAPE_IDS) {
    // The unit outline stretched so its bounding box is the foreground's [x0, x1 + 1) × [y0, y1 + 1).
    const unit = outline(shape, 0, 0, 1);
    const b = bounds(unit);
    const sx = (x1 + 1 - x0) / (b.x1 - b.x0);
    const sy = (y1 + 1 - y0) / (b.y1 - b.y0);
    const poly = unit.map(([x, y]) => [x0 + (x - b.x0) * sx, y0 + (y - b.y0) * sy] as const);
    let inter = 0;
    let union = 0;
    for (let y = Math.max(0, y0 - 1); y <= Math.min(h - 1, y1 + 1); y++)
      for (let x = Math.max(0, x0 - 1); x <= Math.min(w - 1, x1 + 1); x++) {
        const t = inside(poly, x + 0.5, y + 0.5);
        const m = mask[y * w + x] === 1;
        if (t && m) inter++;
        if (t || m) union++;
      }
    const iou = union ? inter / union : 0;
    if (iou > best.iou) best = { shape, iou };
  }
  return best;
}

export function classifyPixels(img: RawImage): Judged {
  const { width: w, height: h, channels: c, data } = img;
  const bg = borderMedian(img);
  const dist = new Float32Array(w * h);
  let maxD = 0;
  for (let i = 0; i < w * h; i++) {
    const d = Math.max(
      Math.abs(data[i * c]! - bg[0]),
      Math.abs(data[i * c + 1]! - bg[1]),
      Math.abs(data[i * c + 2]! - bg[2]),
    );
    dist[i] = d;
    if (d > maxD) maxD = d;
  }
  const none: Judged = { colour: null, shape: null, position: null, foreground: 0, shapeFit: 0 };
  if (maxD < MIN_CONTRAST) return none;
  // Half the strongest contrast: a blurred edge counts as much inside as outside.
  const threshold = Math.max(MIN_CONTRAST, maxD / 2);
  const mask = new Uint8Array(w * h);
  let n = 0;
  let sx = 0;
  let sy = 0;
  const core = [0, 0, 0, 0];
  for (let i = 0; i < w * h; i++) {
    if (dist[i]! < threshold) continue;
    mask[i] = 1;
    n++;
    sx += i % w;
    sy += Math.floor(i / w);
    if (dist[i]! >= 0.75 * maxD) {
      for (let k = 0; k < 3; k++) core[k]! += data[i * c + k]!;
      core[3]!++;
    }
  }
  const dx = sx / n + 0.5 - w / 2;
  const dy = sy / n + 0.5 - h / 2;
  const side = Math.abs(dx) >= Math.abs(dy) ? { dx: Math.sign(dx), dy: 0 } : { dx: 0, dy: Math.sign(dy) };
  const position = POSITIONS.find((p) => p.dx === side.dx && p.dy === side.dy)?.id ?? null;
  const colour = nearestColour([core[0]! / core[3]!, core[1]! / core[3]!, core[2]! / core[3]!]);
  const { shape, iou } = bestShape(mask, w, h);
  return { colour, shape, position, foreground: n, shapeFit: iou };
}

export async function classifyImage(bytes: Uint8Array): Promise<Judged> {
  return classifyPixels(await decodeImage(bytes));
}
