/**
 * Shell-style brace expansion for shard URLs, as python's `braceexpand` does it:
 * numeric ranges `{00000..00127}` (zero padding kept: the width is that of the longer
 * bound when either bound is zero-padded), optional step `{0..10..2}`, descending ranges,
 * lists `{a,b,c}`, nesting `{a,b{1..2}}` and several groups in one pattern.
 * A brace group without a top-level comma or a range (`{x}`) stays literal;
 * `\{` and `\}` escape a brace.
 */
export function expandBraces(pattern: string): string[] {
  return expand(pattern).map(removeEscapes);
}

function expand(pattern: string): string[] {
  let from = 0;
  for (;;) {
    const open = findUnescaped(pattern, "{", from);
    if (open < 0) return [pattern];
    const close = matchingBrace(pattern, open);
    if (close < 0) return [pattern];
    const body = pattern.slice(open + 1, close);
    const alternatives = rangeAlternatives(body) ?? listAlternatives(body);
    if (alternatives === null) {
      from = open + 1;
      continue;
    }
    const prefix = pattern.slice(0, open);
    const suffix = pattern.slice(close + 1);
    const out: string[] = [];
    for (const alternative of alternatives) {
      for (const rest of expand(alternative + suffix)) out.push(prefix + rest);
    }
    return out;
  }
}

function findUnescaped(text: string, char: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === char) return i;
  }
  return -1;
}

function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === "\\") i++;
    else if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return i;
  }
  return -1;
}

const RANGE = /^(-?\d+)\.\.(-?\d+)(?:\.\.(-?\d+))?$/;

function rangeAlternatives(body: string): string[] | null {
  const m = RANGE.exec(body);
  if (!m) return null;
  const [, a = "", b = "", stepText] = m;
  const start = Number.parseInt(a, 10);
  const end = Number.parseInt(b, 10);
  const step = Math.abs(stepText === undefined ? 1 : Number.parseInt(stepText, 10)) || 1;
  const padded = /^-?0\d/.test(a) || /^-?0\d/.test(b);
  const width = padded ? Math.max(a.length, b.length) : 0;
  const count = Math.floor(Math.abs(end - start) / step) + 1;
  const direction = end >= start ? 1 : -1;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const n = start + direction * i * step;
    const digits = String(Math.abs(n)).padStart(n < 0 ? width - 1 : width, "0");
    out.push(n < 0 ? `-${digits}` : digits);
  }
  return out;
}

function listAlternatives(body: string): string[] | null {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === "\\") i++;
    else if (c === "{") depth++;
    else if (c === "}") depth--;
    else if (c === "," && depth === 0) {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  if (parts.length === 0) return null;
  parts.push(body.slice(start));
  return parts;
}

function removeEscapes(text: string): string {
  return text.replace(/\\([{}\\,])/g, "$1");
}
