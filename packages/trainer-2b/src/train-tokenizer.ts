import fs from "node:fs";
import { readCaptions, TextCorpus } from "@laion/shards";
import { type Tokenizer, trainBpe } from "./tokenizer.js";

export interface TrainTokenizerParams {
  /** Text corpus files/folders (.txt one document per line, .jsonl with `text`). */
  corpus: string[];
  /** captions.json files whose captions are added to the training text. */
  captions?: string[];
  /** Text vocabulary size including the 256 byte tokens. */
  vocabSize: number;
  minFrequency?: number;
  /** Where to write the JSON (optional). */
  out?: string;
}

/** Train the byte-level BPE on a corpus + captions (Sinhala and English) and optionally save it. */
export async function trainTokenizer(params: TrainTokenizerParams): Promise<Tokenizer> {
  if (!params.corpus.length && !params.captions?.length) {
    throw new Error("trainTokenizer: give at least one corpus path or captions file");
  }
  for (const c of params.captions ?? [])
    if (!fs.existsSync(c)) throw new Error(`captions file ${c} does not exist`);
  async function* texts() {
    if (params.corpus.length) for await (const s of TextCorpus(params.corpus)) yield s.txt;
    for (const file of params.captions ?? []) for (const c of await readCaptions(file)) yield c.caption;
  }
  const tok = await trainBpe({
    texts: texts(),
    vocabSize: params.vocabSize,
    ...(params.minFrequency !== undefined ? { minFrequency: params.minFrequency } : {}),
  });
  if (params.out) tok.save(params.out);
  return tok;
}
