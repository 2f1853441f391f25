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

/** "a red circle", "an orange star". */
const enThing = (d: Described) => {
  const colour = colourDef(d.colour).en;
  return `${/^[aeiou]/.test(colour) ? "an" : "a"} ${colour} ${shapeDef(d.shape).en}`;
};

const enPlace = (position: string) => {
  const word = positionDef(position).en;
  return word === "left" || word === "right" ? `on the ${word}` : `at the ${word}`;
};

/** Templates per language; `template` picks one (modulo the count). */
const TEMPLATES: Record<Lang, ((d: Described) => string)[]> = {
  en: [(d) => `${enThing(d)} ${enPlace(d.position)}`, (d) => `${enPlace(d.position)}, ${enThing(d)}`],
  si: [
    (d) => `${colourDef(d.colour).si} ${shapeDef(d.shape).siIndefinite} ${positionDef(d.position).si} පැත්තේ`,
    (d) => `${positionDef(d.position).si} පැත්තේ ${colourDef(d.colour).si} ${shapeDef(d.shape).siIndefinite}`,
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
