// The unified vocabulary the transformer sees:
//   [0, 5)                         specials <pad> <bos> <eos> <boi> <eoi>
//   [5, 5 + textSize)              text tokens (256 byte ids + BPE merges)
//   [5 + textSize, + codebookSize) VQ image codes
// Specials come first so their ids never move when the tokenizer or the codebook changes size.

export const SPECIALS = ["<pad>", "<bos>", "<eos>", "<boi>", "<eoi>"] as const;
export type Special = (typeof SPECIALS)[number];

export const PAD = 0;
export const BOS = 1;
export const EOS = 2;
export const BOI = 3;
export const EOI = 4;

export interface Vocab {
  textOffset: number;
  textSize: number;
  imageOffset: number;
  codebookSize: number;
  /** Total number of ids the model must embed. */
  size: number;
}

export function makeVocab(params: { textSize: number; codebookSize: number }): Vocab {
  const { textSize, codebookSize } = params;
  if (!Number.isInteger(textSize) || textSize < 256)
    throw new Error(`textSize must be >= 256, got ${textSize}`);
  if (!Number.isInteger(codebookSize) || codebookSize < 0) {
    throw new Error(`codebookSize must be a non-negative integer, got ${codebookSize}`);
  }
  const textOffset = SPECIALS.length;
  const imageOffset = textOffset + textSize;
  return { textOffset, textSize, imageOffset, codebookSize, size: imageOffset + codebookSize };
}

export type TokenKind = "special" | "text" | "image";

export function kindOf(vocab: Vocab, id: number): TokenKind {
  if (id < vocab.textOffset) return "special";
  if (id < vocab.imageOffset) return "text";
  return "image";
}

export const textToVocab = (vocab: Vocab, ids: ArrayLike<number>): number[] =>
  Array.from(ids, (t) => t + vocab.textOffset);

export function codesToVocab(vocab: Vocab, codes: ArrayLike<number>): number[] {
  return Array.from(codes, (c) => {
    if (c < 0 || c >= vocab.codebookSize)
      throw new Error(`VQ code ${c} outside codebook of ${vocab.codebookSize}`);
    return c + vocab.imageOffset;
  });
}

/** Text token ids (tokenizer space) among unified ids, dropping specials and image codes. */
export const vocabToText = (vocab: Vocab, ids: ArrayLike<number>): number[] =>
  Array.from(ids)
    .filter((t) => kindOf(vocab, t) === "text")
    .map((t) => t - vocab.textOffset);

export const vocabToCodes = (vocab: Vocab, ids: ArrayLike<number>): number[] =>
  Array.from(ids)
    .filter((t) => kindOf(vocab, t) === "image")
    .map((t) => t - vocab.imageOffset);
