// Captions from templates (English and Sinhala, two word orders each), and the reverse: reading the
// attributes back out of any caption, the model's generated ones included.
import { COLOURS, colourDef, POSITIONS, positionDef, SHAPES, shapeDef } from "./attributes.js";

export type Lang = "en" | "si";
export const LANGS: readonly Lang[] = ["en", "si"];

export interface Described {
  colour: string;
  shape: string;
  position: string;
}

const enPlace = (position: string) => {
  const word = positionDef(position).en;
  return word === "left" || word === "right" ? `on the ${word}` : `at the ${word}`;
};

/** "a circle", "a star" (every shape word starts with a consonant). */
const enThing = (d: Described) => `a ${shapeDef(d.shape).en}`;
const siPlace = (d: Described) => `${positionDef(d.position).si} පැත්තේ`;

/**
 * Templates per language; `template` picks one (modulo the count). The shape is named before the colour,
 * in its own clause ("… a circle. it is red."): a caption model picks the shape word from the image
 * alone, not after a colour word whose training captions never named that shape — with the colour first
 * ("a red circle"), the model learnt which shapes follow "red" and never named a held-out pair's shape
 * (held-out shape accuracy fell below chance as training went on, docs/benchmarks.md). The colour,
 * which the image shows in many flat codes, is then read against that weaker prior.
 */
const TEMPLATES: Record<Lang, ((d: Described) => string)[]> = {
  en: [
    (d) => `${enThing(d)} ${enPlace(d.position)}. it is ${colourDef(d.colour).en}.`,
    (d) => `${enPlace(d.position)}, ${enThing(d)}. it is ${colourDef(d.colour).en}.`,
  ],
  si: [
    (d) => `${shapeDef(d.shape).siIndefinite} ${siPlace(d)}. එය ${colourDef(d.colour).si} පාටයි.`,
    (d) => `${siPlace(d)} ${shapeDef(d.shape).siIndefinite}. එය ${colourDef(d.colour).si} පාටයි.`,
  ],
};

export const TEMPLATE_COUNT = 2;

export function caption(d: Described, lang: Lang, template = 0): string {
  const list = TEMPLATES[lang];
  if (!list) throw new Error(`unknown caption language "${lang}"; use one of: ${LANGS.join(", ")}`);
  return list[template % list.length]!(d).normalize("NFC");
}

/** Attribute values read from a caption; null where no value (or more than one) is named. */
export interface ReadAttributes {
  colour: string | null;
  shape: string | null;
  position: string | null;
}

const words = (text: string) =>
  text
    .normalize("NFC")
    .toLowerCase()
    .split(/[\s,.;:!?()"']+/u)
    .filter(Boolean);

/** The one value whose English or Sinhala word occurs (a Sinhala noun may carry a suffix: කවයක්). */
function pick(
  ws: string[],
  defs: readonly { id: string; en: string; si: string }[],
  suffixed: boolean,
): string | null {
  const found = new Set<string>();
  for (const d of defs) {
    const si = d.si.normalize("NFC");
    if (ws.some((w) => w === d.en || w === si || (suffixed && w.startsWith(si)))) found.add(d.id);
  }
  return found.size === 1 ? [...found][0]! : null;
}

export function readAttributes(text: string): ReadAttributes {
  const ws = words(text);
  return {
    colour: pick(ws, COLOURS, false),
    shape: pick(ws, SHAPES, true),
    position: pick(ws, POSITIONS, false),
  };
}
