import { stat } from "node:fs/promises";
import path from "node:path";
import { glob } from "tinyglobby";
import { utf8Lines } from "./utf8-lines.js";

/** One document of a text corpus. */
export interface TextSample {
  /** `<file stem>:<first line number>`, unique within a corpus of distinctly named files. */
  __key__: string;
  /** The file the document came from. */
  __url__: string;
  txt: string;
}

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
): AsyncIterable<TextSample> {
  const mode = options.mode ?? "line";
  if (mode !== "line" && mode !== "paragraph") {
    throw new Error(`TextCorpus: mode must be "line" or "paragraph", got ${JSON.stringify(mode)}`);
  }
  const list = typeof paths === "string" ? [paths] : paths;
  if (list.length === 0) throw new Error("TextCorpus: no paths given");
  return {
    [Symbol.asyncIterator]: async function* () {
      for (const file of await resolveTextFiles(list)) {
        const documents = /\.jsonl$/i.test(file)
          ? jsonlDocuments(file, options)
          : txtDocuments(file, mode, options);
        const normalize = options.normalize ?? "NFC";
        const stem = path.basename(file).replace(/\.[^.]*$/, "");
        for await (const { text, line } of documents) {
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
  file: string,
  mode: "line" | "paragraph",
  options: TextCorpusOptions,
): AsyncGenerator<{ text: string; line: number }> {
  const lines = utf8Lines({ path: file, highWaterMark: options.readBufferSize });
  if (mode === "line") {
    for await (const l of lines) if (l.text.trim() !== "") yield l;
    return;
  }
  let paragraph: string[] = [];
  let first = 0;
  for await (const l of lines) {
    if (l.text.trim() === "") {
      if (paragraph.length > 0) yield { text: paragraph.join("\n"), line: first };
      paragraph = [];
    } else {
      if (paragraph.length === 0) first = l.line;
      paragraph.push(l.text);
    }
  }
  if (paragraph.length > 0) yield { text: paragraph.join("\n"), line: first };
}

async function* jsonlDocuments(
  file: string,
  options: TextCorpusOptions,
): AsyncGenerator<{ text: string; line: number }> {
  const field = options.field ?? "text";
  for await (const l of utf8Lines({ path: file, highWaterMark: options.readBufferSize })) {
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
    yield { text, line: l.line };
  }
}
