/** Tiny XML helpers for the S3 stand-in: S3 answers are flat enough to build by hand. */

export function xmlEscape(s: string): string {
  return s.replace(/[<>&'"\r]/g, (c) =>
    c === "<"
      ? "&lt;"
      : c === ">"
        ? "&gt;"
        : c === "&"
          ? "&amp;"
          : c === "'"
            ? "&apos;"
            : c === '"'
              ? "&quot;"
              : "&#13;",
  );
}

export function xmlUnescape(s: string): string {
  return s.replace(
    /&(lt|gt|amp|apos|quot|#(\d+)|#x([0-9a-fA-F]+));/g,
    (_, name: string, dec?: string, hex?: string) => {
      if (dec) return String.fromCodePoint(Number(dec));
      if (hex) return String.fromCodePoint(Number.parseInt(hex, 16));
      return { lt: "<", gt: ">", amp: "&", apos: "'", quot: '"' }[name as "lt"]!;
    },
  );
}

/** `<tag>value</tag>` with the value escaped; nothing for undefined. */
export function el(tag: string, value: string | number | boolean | undefined): string {
  return value === undefined ? "" : `<${tag}>${xmlEscape(String(value))}</${tag}>`;
}

export function xmlDoc(root: string, inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</${root}>`;
}

/** The text of every `<tag>…</tag>` in `xml`, unescaped (enough for S3 request bodies). */
export function allTags(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, "g");
  for (const m of xml.matchAll(re)) out.push(xmlUnescape(m[1]!));
  return out;
}
