// What every reader yields and every consumer looks inside: a keyed sample whose members are stored
// under their file extension, and the two lookups training needs (the image bytes, the caption).

/** A sample: its key, and each member (raw bytes, or a decoded value) under its extension. */
export interface KeyedSample {
  __key__: string;
  [member: string]: unknown;
}

/** The extensions an image member is looked for under, in this order. */
export const IMAGE_MEMBERS = ["jpg", "jpeg", "png", "webp"] as const;

/** The image bytes of a sample (its first jpg/jpeg/png/webp member that holds bytes), or undefined. */
export function imageOf(sample: KeyedSample): Uint8Array | undefined {
  for (const ext of IMAGE_MEMBERS) {
    const v = sample[ext];
    if (v instanceof Uint8Array) return v;
  }
  return undefined;
}

const utf8 = new TextDecoder();

/** The caption (`txt` member) as a string, decoded from UTF-8 when raw; "" when there is none. */
export function textOf(sample: KeyedSample): string {
  const t = sample["txt"];
  if (typeof t === "string") return t;
  if (t instanceof Uint8Array) return utf8.decode(t);
  return "";
}
