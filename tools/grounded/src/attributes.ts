// The attribute vocabulary of the grounded images: what can be drawn, and the words that name it in
// English and Sinhala. Each attribute value is one word in each language (a position is a word plus
// "පැත්තේ"/"on the"), so a BPE tokenizer trained on the captions learns each as a single token and the
// model's caption can be read back word by word (readAttributes in captions.ts).

export type Rgb = readonly [number, number, number];

export interface ColourDef {
  id: string;
  en: string;
  si: string;
  /** The colour drawn (before the per-image jitter). */
  rgb: Rgb;
}

export interface ShapeDef {
  id: string;
  en: string;
  /** The Sinhala noun, and its indefinite form ("a circle") used in captions. */
  si: string;
  siIndefinite: string;
}

export interface PositionDef {
  id: string;
  en: string;
  si: string;
  /** Direction of the shape's centre from the image centre. */
  dx: -1 | 0 | 1;
  dy: -1 | 0 | 1;
}

/** Six colours far apart in RGB (chance from the colour alone: 1/6). */
export const COLOURS: readonly ColourDef[] = [
  { id: "red", en: "red", si: "රතු", rgb: [215, 35, 35] },
  { id: "green", en: "green", si: "කොළ", rgb: [40, 165, 55] },
  { id: "blue", en: "blue", si: "නිල්", rgb: [35, 75, 215] },
  { id: "yellow", en: "yellow", si: "කහ", rgb: [240, 205, 30] },
  { id: "purple", en: "purple", si: "දම්", rgb: [135, 50, 170] },
  { id: "orange", en: "orange", si: "තැඹිලි", rgb: [245, 125, 20] },
];

/** Four silhouettes that differ at an 8-pixel grid (chance: 1/4). */
export const SHAPES: readonly ShapeDef[] = [
  { id: "circle", en: "circle", si: "කවය", siIndefinite: "කවයක්" },
  { id: "square", en: "square", si: "චතුරස්රය", siIndefinite: "චතුරස්රයක්" },
  { id: "triangle", en: "triangle", si: "ත්‍රිකෝණය", siIndefinite: "ත්‍රිකෝණයක්" },
  { id: "star", en: "star", si: "තරුව", siIndefinite: "තරුවක්" },
];

/** Four places (chance: 1/4). */
export const POSITIONS: readonly PositionDef[] = [
  { id: "left", en: "left", si: "වම්", dx: -1, dy: 0 },
  { id: "right", en: "right", si: "දකුණු", dx: 1, dy: 0 },
  { id: "top", en: "top", si: "ඉහළ", dx: 0, dy: -1 },
  { id: "bottom", en: "bottom", si: "පහළ", dx: 0, dy: 1 },
];

/** A colour × shape pair; every position of a held-out pair is held out. */
export interface Combo {
  colour: string;
  shape: string;
}

/**
 * Held out of training by default: one colour per shape, each colour at most once, so every colour and
 * every shape is still seen in training — only these pairings are new at evaluation.
 */
export const DEFAULT_HELD_OUT: readonly Combo[] = [
  { colour: "red", shape: "circle" },
  { colour: "green", shape: "square" },
  { colour: "blue", shape: "triangle" },
  { colour: "yellow", shape: "star" },
];

export const comboId = (c: Combo) => `${c.colour}-${c.shape}`;

function byId<T extends { id: string }>(list: readonly T[], id: string, what: string): T {
  const found = list.find((x) => x.id === id);
  if (!found) throw new Error(`unknown ${what} "${id}"; use one of: ${list.map((x) => x.id).join(", ")}`);
  return found;
}

export const colourDef = (id: string) => byId(COLOURS, id, "colour");
export const shapeDef = (id: string) => byId(SHAPES, id, "shape");
export const positionDef = (id: string) => byId(POSITIONS, id, "position");

/** Parses `red-circle,green-square` (the CLI's --held-out) into combos, checking every name. */
export function parseCombos(text: string): Combo[] {
  if (text.trim() === "") return [];
  return text.split(",").map((part) => {
    const [colour = "", shape = "", ...rest] = part.trim().split("-");
    if (rest.length || !colour || !shape)
      throw new Error(`held-out combination "${part}" must be colour-shape, e.g. red-circle`);
    colourDef(colour);
    shapeDef(shape);
    return { colour, shape };
  });
}

/** The colour × shape pairs of one split: training gets every pair not held out. */
export function splitCombos(heldOut: readonly Combo[]): { train: Combo[]; heldOut: Combo[] } {
  const held = new Set(heldOut.map(comboId));
  const all = COLOURS.flatMap((c) => SHAPES.map((s) => ({ colour: c.id, shape: s.id })));
  const train = all.filter((c) => !held.has(comboId(c)));
  if (train.length === 0) throw new Error("every colour-shape combination is held out: nothing to train on");
  return { train, heldOut: all.filter((c) => held.has(comboId(c))) };
}
