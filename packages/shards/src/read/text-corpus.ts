import { stat } from "node:fs/promises";
import path from "node:path";
import type { Resumable } from "@laion/mixer";
import { glob } from "tinyglobby";
import type { SampleKeys } from "./sample-types.js";
import { type TextLine, utf8Lines } from "./utf8-lines.js";

/**
 * One document of a text corpus: `__key__` is `<file stem>:<first line number>` (unique within a corpus
 * of distinctly named files), `__url__` the file it came from, `txt` the document.
 */
export type TextSample = SampleKeys & { txt: string };

export interface TextCorpusOptions {
  /** `.txt` documents: one per non-blank line ("line", default) or blank-line separated paragraphs ("paragraph"). */
  mode?: "line" | "paragraph";
  /** Unicode normalisation applied to each document (default "NFC"; false keeps the text as read). */
  normalize?: "NFC" | "NFKC" | false;
  /** Field holding the text in `.jsonl` records (default "text"). */
  field?: string;
  /** Read size in bytes (default 64 KiB); tests use tiny ones to split characters across reads. */
  readBufferSize?: number;
}

/** Where a TextCorpus reader is: a file and a byte offset in it, so a resume reads no earlier byte. */
export interface TextCorpusState {
  version: 1;
  /** Files the paths resolved to (a resume against another file list is an error); 0 before the first iteration. */
  files: number;
  /** Index of the file being read, and its path (checked on resume). */
  file: number;
  path: string;
  /** Byte offset in that file just past the last document handed out, and that document's last line number. */
  offset: number;
  line: number;
}

export interface TextCorpusReader extends AsyncIterable<TextSample>, Resumable<TextCorpusState> {
  /** Where the latest iteration is. */
  state(): TextCorpusState;
  /** Makes the next iteration start just after the saved document, reading from its byte offset. */
  restore(state: TextCorpusState): void;
}

/** A document and where it ends (its last line's end offset and number). */
interface Document {
  text: string;
  /** First line of the document (its key). */
  line: number;
  last: TextLine;
}

const TEXT_FILES = /\.(txt|jsonl)$/i;

/**
 * Streams the documents of UTF-8 `.txt` and `.jsonl` files (given as files, folders — every
 * .txt/.jsonl below, sorted — or globs). `.txt`: one document per non-blank line, or per
 * blank-line separated paragraph; `.jsonl`: the `text` field of each non-blank line.
 * Invalid UTF-8 throws an error with the file and byte offset; a bad JSON line an error with
 * file:line. Documents are NFC-normalised; lines are split only at `\n`, so grapheme
 * clusters (Sinhala conjuncts with ZWJ, vowel signs) are never cut.
 */
export function TextCorpus(
  paths: string | readonly string[],
  options: TextCorpusOptions = {},
): TextCorpusReader {
  const mode = options.mode ?? "line";
  if (mode !== "line" && mode !== "paragraph") {
    throw new Error(`TextCorpus: mode must be "line" or "paragraph", got ${JSON.stringify(mode)}`);
  }
  const list = typeof paths === "string" ? [paths] : paths;
  if (list.length === 0) throw new Error("TextCorpus: no paths given");
  const normalize = options.normalize ?? "NFC";
  let position: Omit<TextCorpusState, "version"> = { files: 0, file: 0, path: "", offset: 0, line: 0 };
  let resumeAt: TextCorpusState | undefined;
  return {
    state: () => ({ version: 1, ...position }),
    restore(state) {
      resumeAt = checkState(state);
      const { version: _, ...rest } = resumeAt;
      position = rest;
    },
    [Symbol.asyncIterator]: async function* () {
      const start = resumeAt;
      resumeAt = undefined;
      const files = await resolveTextFiles(list);
      if (start && start.files !== 0 && (start.files !== files.length || files[start.file] !== start.path)) {
        throw new Error(
          `TextCorpus: cannot resume: the saved state is for file ${start.file} (${start.path}) of ${start.files}, but the paths now give ${files.length} files${files[start.file] ? ` with ${files[start.file]} at ${start.file}` : ""}`,
        );
      }
      for (let index = start?.file ?? 0; index < files.length; index++) {
        const file = files[index] as string;
        const from =
          index === start?.file ? { start: start.offset, line: start.line } : { start: 0, line: 0 };
        position = { files: files.length, file: index, path: file, offset: from.start, line: from.line };
        const lines = utf8Lines({ path: file, highWaterMark: options.readBufferSize, ...from });
        const documents = /\.jsonl$/i.test(file)
          ? jsonlDocuments(file, lines, options)
          : txtDocuments(lines, mode);
        const stem = path.basename(file).replace(/\.[^.]*$/, "");
        for await (const { text, line, last } of documents) {
          // Advanced before the yield: a state() taken while the consumer holds this document points past it.
          position.offset = last.end;
          position.line = last.line;
          yield {
            __key__: `${stem}:${line}`,
            __url__: file,
            txt: normalize ? text.normalize(normalize) : text,
          };
        }
      }
    },
  };
}

function checkState(state: TextCorpusState): TextCorpusState {
  if (typeof state !== "object" || state === null || state.version !== 1 || typeof state.path !== "string") {
    throw new Error(`TextCorpus: cannot restore ${JSON.stringify(state)}: expected a state() with version 1`);
  }
  for (const field of ["files", "file", "offset", "line"] as const) {
    if (!Number.isSafeInteger(state[field]) || state[field] < 0) {
      throw new Error(
        `TextCorpus: cannot restore: state.${field} is ${JSON.stringify(state[field])}, not a count`,
      );
    }
  }
  return { ...state };
}

async function resolveTextFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    const info = await stat(p).catch(() => null);
    if (info?.isDirectory()) {
      const found = await glob("**/*.{txt,jsonl,TXT,JSONL}", { cwd: p, onlyFiles: true });
      if (found.length === 0) throw new Error(`TextCorpus: no .txt or .jsonl files in folder ${p}`);
      out.push(...found.sort().map((f) => path.join(p, f)));
    } else if (info) {
      if (!TEXT_FILES.test(p)) throw new Error(`TextCorpus: ${p} is neither .txt nor .jsonl`);
      out.push(p);
    } else if (/[*?[\]{}]/.test(p)) {
      const found = (await glob(p, { onlyFiles: true, absolute: path.isAbsolute(p) })).filter((f) =>
        TEXT_FILES.test(f),
      );
      if (found.length === 0) throw new Error(`TextCorpus: glob ${p} matched no .txt or .jsonl files`);
      out.push(...found.sort());
    } else {
      throw new Error(`TextCorpus: no such file or folder: ${p}`);
    }
  }
  return out;
}

async function* txtDocuments(
  lines: AsyncIterable<TextLine>,
  mode: "line" | "paragraph",
): AsyncGenerator<Document> {
  if (mode === "line") {
    for await (const l of lines) if (l.text.trim() !== "") yield { text: l.text, line: l.line, last: l };
    return;
  }
  let paragraph: string[] = [];
  let first = 0;
  let previous: TextLine | undefined;
  for await (const l of lines) {
    if (l.text.trim() === "") {
      // The blank line that ends a paragraph belongs to it, so a resume starts after it.
      if (paragraph.length > 0) yield { text: paragraph.join("\n"), line: first, last: l };
      paragraph = [];
    } else {
      if (paragraph.length === 0) first = l.line;
      paragraph.push(l.text);
    }
    previous = l;
  }
  if (paragraph.length > 0 && previous) yield { text: paragraph.join("\n"), line: first, last: previous };
}

async function* jsonlDocuments(
  file: string,
  lines: AsyncIterable<TextLine>,
  options: TextCorpusOptions,
): AsyncGenerator<Document> {
  const field = options.field ?? "text";
  for await (const l of lines) {
    if (l.text.trim() === "") continue;
    let record: unknown;
    try {
      record = JSON.parse(l.text);
    } catch (error) {
      throw new Error(`${file}:${l.line}: invalid JSON: ${(error as Error).message}`);
    }
    const text = (record as Record<string, unknown> | null)?.[field];
    if (typeof record !== "object" || record === null || typeof text !== "string") {
      throw new Error(
        `${file}:${l.line}: expected an object with a string "${field}" field, got ${l.text.slice(0, 80)}`,
      );
    }
    yield { text, line: l.line, last: l };
  }
}
