// Byte-level BPE (GPT-2 style): text → UTF-8 bytes → merges learned from the corpus.
// Ids 0..255 are the raw bytes, 256+i is merge i. Because every string is a byte sequence and
// every byte has an id, encode/decode round-trips any UTF-8 exactly (no <unk>).
import fs from "node:fs";
import { writeFileAtomicSync } from "@laion/cli-kit";

/**
 * Pre-tokenisation: chunks that merges never cross. Like GPT-2's pattern, but letters include
 * combining marks (\p{M}) and ZWJ/ZWNJ, so a Sinhala word with vowel signs, virama and the
 * ZWJ of conjuncts (යංශය, රකාරාංශය) stays one chunk; GPT-2's `\p{L}+` would split it after
 * every consonant.
 */
const PRETOKENIZE =
  /'(?:s|t|re|ve|m|ll|d)| ?[\p{L}\p{M}\u200C\u200D]+| ?\p{N}+| ?[^\s\p{L}\p{M}\p{N}\u200C\u200D]+|\s+(?!\S)|\s+/gu;

export const TOKENIZER_FORMAT = "laion-bpe-v1";

export interface TokenizerJson {
  format: typeof TOKENIZER_FORMAT;
  /** Merges in rank order: [left id, right id]; merge i creates id 256 + i. */
  merges: [number, number][];
}

/** Split text into pre-tokenisation chunks; the chunks always concatenate back to `text`. */
export function pretokenize(text: string): string[] {
  const out: string[] = [];
  let last = 0;
  for (const m of text.matchAll(PRETOKENIZE)) {
    // The pattern covers every code point, but keep any gap rather than drop it.
    if (m.index > last) out.push(text.slice(last, m.index));
    out.push(m[0]);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

const utf8 = new TextEncoder();
const pairKey = (a: number, b: number) => a * 1_048_576 + b;

export class Tokenizer {
  readonly merges: [number, number][];
  /** pair key → rank (merge index). */
  private readonly ranks = new Map<number, number>();
  /** id → bytes. */
  private readonly pieces: Uint8Array[] = [];
  private readonly cache = new Map<string, number[]>();

  constructor(json: TokenizerJson) {
    if (json.format !== TOKENIZER_FORMAT) {
      throw new Error(`tokenizer format must be "${TOKENIZER_FORMAT}", got ${JSON.stringify(json.format)}`);
    }
    this.merges = json.merges;
    for (let i = 0; i < 256; i++) this.pieces.push(Uint8Array.of(i));
    json.merges.forEach(([a, b], i) => {
      const left = this.pieces[a];
      const right = this.pieces[b];
      if (!left || !right) throw new Error(`tokenizer merge ${i} refers to unknown id ${left ? b : a}`);
      const piece = new Uint8Array(left.length + right.length);
      piece.set(left);
      piece.set(right, left.length);
      this.pieces.push(piece);
      this.ranks.set(pairKey(a, b), i);
    });
  }

  /** Number of text token ids (256 bytes + merges). */
  get size(): number {
    return 256 + this.merges.length;
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (const chunk of pretokenize(text)) {
      let ids = this.cache.get(chunk);
      if (!ids) {
        ids = this.mergeBytes(Array.from(utf8.encode(chunk)));
        if (this.cache.size < 100_000) this.cache.set(chunk, ids);
      }
      for (const id of ids) out.push(id);
    }
    return out;
  }

  /** Bytes of a token sequence (ids must be text ids < size). */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    let n = 0;
    for (let i = 0; i < ids.length; i++) n += this.piece(ids[i]!).length;
    const out = new Uint8Array(n);
    let o = 0;
    for (let i = 0; i < ids.length; i++) {
      const p = this.piece(ids[i]!);
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /** Text of a token sequence; a sequence cut mid-character decodes with U+FFFD for the partial bytes. */
  decode(ids: ArrayLike<number>): string {
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(this.decodeBytes(ids));
  }

  toJSON(): TokenizerJson {
    return { format: TOKENIZER_FORMAT, merges: this.merges };
  }

  /** Written atomically; on an error (a folder at `file`, a full disk) no temp file is left behind. */
  save(file: string): void {
    writeFileAtomicSync(file, JSON.stringify(this.toJSON()));
  }

  static load(file: string): Tokenizer {
    let json: TokenizerJson;
    try {
      json = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (err) {
      throw new Error(`cannot read tokenizer ${file}: ${(err as Error).message}`);
    }
    return new Tokenizer(json);
  }

  private piece(id: number): Uint8Array {
    const p = this.pieces[id];
    if (!p) throw new Error(`token id ${id} is not a text token (text ids are 0..${this.size - 1})`);
    return p;
  }

  /** Standard BPE: repeatedly apply the lowest-rank merge present. */
  private mergeBytes(ids: number[]): number[] {
    while (ids.length > 1) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i < ids.length - 1; i++) {
        const r = this.ranks.get(pairKey(ids[i]!, ids[i + 1]!));
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const [a, b] = this.merges[bestRank]!;
      const merged: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        if (i < ids.length - 1 && ids[i] === a && ids[i + 1] === b) {
          merged.push(256 + bestRank);
          i++;
        } else merged.push(ids[i]!);
      }
      ids = merged;
    }
    return ids;
  }
}

export interface TrainBpeParams {
  /** Texts to learn from (documents or lines); streamed once to count chunks. */
  texts: Iterable<string> | AsyncIterable<string>;
  /** Text vocabulary size including the 256 byte ids (so merges = vocabSize - 256). */
  vocabSize: number;
  /** Merges need a pair seen at least this often (default 2). */
  minFrequency?: number;
}

/**
 * Learn merges. Chunk counts are kept in a map (memory ~ distinct words, not corpus size); pair
 * counts are updated incrementally, touching only the words that contain the merged pair.
 */
export async function trainBpe(params: TrainBpeParams): Promise<Tokenizer> {
  const { vocabSize, minFrequency = 2 } = params;
  if (!Number.isInteger(vocabSize) || vocabSize < 256) {
    throw new Error(`vocabSize must be an integer >= 256 (the byte alphabet), got ${vocabSize}`);
  }
  const counts = new Map<string, number>();
  for await (const text of params.texts) {
    for (const chunk of pretokenize(text.normalize("NFC"))) counts.set(chunk, (counts.get(chunk) ?? 0) + 1);
  }
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [chunk, n] of counts) {
    words.push(Array.from(utf8.encode(chunk)));
    freqs.push(n);
  }
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addWord = (w: number, sign: number) => {
    const ids = words[w]!;
    for (let i = 0; i < ids.length - 1; i++) {
      const k = pairKey(ids[i]!, ids[i + 1]!);
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * freqs[w]!);
      if (sign > 0) {
        let s = pairWords.get(k);
        if (!s) {
          s = new Set();
          pairWords.set(k, s);
        }
        s.add(w);
      }
    }
  };
  for (let w = 0; w < words.length; w++) addWord(w, 1);

  const merges: [number, number][] = [];
  while (256 + merges.length < vocabSize) {
    let bestKey = -1;
    let bestCount = 0;
    for (const [k, c] of pairCount) {
      // Ties → smallest key, so training is deterministic whatever the map order.
      if (c > bestCount || (c === bestCount && c > 0 && k < bestKey)) {
        bestCount = c;
        bestKey = k;
      }
    }
    if (bestKey < 0 || bestCount < minFrequency) break;
    const a = Math.floor(bestKey / 1_048_576);
    const b = bestKey % 1_048_576;
    const id = 256 + merges.length;
    merges.push([a, b]);
    for (const w of pairWords.get(bestKey) ?? []) {
      addWord(w, -1);
      const ids = words[w]!;
      const merged: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        if (i < ids.length - 1 && ids[i] === a && ids[i + 1] === b) {
          merged.push(id);
          i++;
        } else merged.push(ids[i]!);
      }
      words[w] = merged;
      addWord(w, 1);
    }
    pairWords.delete(bestKey);
    pairCount.delete(bestKey);
    for (const [k, c] of pairCount) if (c <= 0) pairCount.delete(k);
  }
  return new Tokenizer({ format: TOKENIZER_FORMAT, merges });
}
