import { createReadStream } from "node:fs";

/** One line of a UTF-8 text file, without its line terminator. */
export interface TextLine {
  text: string;
  /** 1-based line number. */
  line: number;
  /** Byte offset just past this line's terminator: where a reader resuming after this line starts. */
  end: number;
}

/**
 * Streams the lines of a UTF-8 file with a fatal decoder: invalid bytes throw an Error naming
 * the file and the byte offset of the first bad byte. Multi-byte characters split across
 * read chunks are carried by the streaming decoder, and lines are cut only at `\n`
 * (a `\r` before it is dropped), so no character or grapheme cluster is ever split.
 * A leading byte-order mark is removed.
 *
 * `start` (a line's `end` from an earlier read) and `line` (that line's number) resume reading
 * after that line without reading the bytes before it.
 */
export async function* utf8Lines(params: {
  path: string;
  highWaterMark?: number;
  start?: number;
  line?: number;
}): AsyncGenerator<TextLine> {
  const { path } = params;
  const start = params.start ?? 0;
  // Only a BOM at byte 0 is a BOM; past it U+FEFF is text, as in an uninterrupted read.
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: start > 0 });
  let offset = start; // bytes consumed before the current chunk
  let end = start; // bytes of the lines handed out so far
  let held: Uint8Array = new Uint8Array(0); // bytes of an incomplete character the decoder holds
  let pending = "";
  let line = params.line ?? 0;
  const stream = createReadStream(path, { highWaterMark: params.highWaterMark ?? 1 << 16, start });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (offset === 0 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) end = 3;
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        const bad = invalidOffset(Buffer.concat([held, chunk]));
        throw new Error(`${path}: invalid UTF-8 at byte offset ${offset - held.length + bad}`);
      }
      held = incompleteTail(Buffer.concat([held, chunk.subarray(Math.max(0, chunk.length - 3))]));
      offset += chunk.length;
      pending += text;
      let from = 0;
      for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n", from)) {
        const stop = nl > from && pending.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        end += Buffer.byteLength(pending.slice(from, nl + 1));
        yield { text: pending.slice(from, stop), line: ++line, end };
        from = nl + 1;
      }
      pending = pending.slice(from);
    }
    try {
      pending += decoder.decode();
    } catch {
      throw new Error(
        `${path}: invalid UTF-8 at byte offset ${offset - held.length} (file ends inside a character)`,
      );
    }
    if (pending.length > 0) {
      end += Buffer.byteLength(pending);
      yield { text: pending.endsWith("\r") ? pending.slice(0, -1) : pending, line: ++line, end };
    }
  } finally {
    stream.destroy();
  }
}

/** Length in bytes of a UTF-8 sequence starting with `lead` (0 if `lead` cannot start one). */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** The bytes at the end of `bytes` (valid UTF-8 so far) that start a character not yet complete. */
function incompleteTail(bytes: Uint8Array): Uint8Array {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const b = bytes[bytes.length - back] as number;
    if ((b & 0xc0) !== 0x80)
      return sequenceLength(b) > back ? bytes.slice(bytes.length - back) : new Uint8Array(0);
  }
  return new Uint8Array(0);
}

/**
 * Index of the start of the first malformed sequence in `bytes` (as Python reports it), by the WHATWG decoder's rules
 * (no overlongs, surrogates or code points above U+10FFFF); `bytes.length` if none.
 */
function invalidOffset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    const need = sequenceLength(b);
    if (need === 0) return i;
    for (let k = 1; k < need; k++) {
      if (i + k >= bytes.length) return bytes.length;
      const c = bytes[i + k] as number;
      let lo = 0x80;
      let hi = 0xbf;
      if (k === 1 && b === 0xe0) lo = 0xa0;
      if (k === 1 && b === 0xed) hi = 0x9f;
      if (k === 1 && b === 0xf0) lo = 0x90;
      if (k === 1 && b === 0xf4) hi = 0x8f;
      if (c < lo || c > hi) return i;
    }
    i += need;
  }
  return bytes.length;
}
