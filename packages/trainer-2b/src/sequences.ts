// Samples → token documents → packed [B, T] training windows.
//
// Documents (unified ids, see vocab.ts):
//   text-only   <bos> text <eos>
//   text→image  <bos> caption <boi> codes <eoi> <eos>
//   image→text  <bos> <boi> codes <eoi> caption <eos>
// Packing: documents are concatenated and cut into windows of seq_len + 1 (inputs = [0, T),
// targets = [1, T]). Attention never crosses documents: every position carries its document id
// and the model builds a block-diagonal causal mask from them. The target that would predict the
// next document's <bos> from the previous document's <eos> is masked out of the loss. With
// `wholeDocs` (config data.split_documents: false, the default) a document that fits in one
// window is never cut across two.

import type { Tokenizer } from "./tokenizer.js";
import { BOI, BOS, codesToVocab, EOI, EOS, kindOf, PAD, textToVocab, type Vocab } from "./vocab.js";

export type DocKind = "text" | "text2image" | "image2text";

export interface Doc {
  tokens: number[];
  /** Mixer source name ("corpus", "local", "laion", …), for per-source loss. */
  source: string;
  kind: DocKind;
}

export interface BuildDocParams {
  vocab: Vocab;
  tokenizer: Tokenizer;
  source: string;
  text: string;
  /** VQ codes of the image; absent for text-only samples. */
  codes?: ArrayLike<number>;
  /** For image samples: which direction (the caller draws it with its seeded rng). */
  direction?: "text2image" | "image2text";
  /** Cap on caption/text tokens (keeps one document from eating many windows). */
  maxTextTokens?: number;
}

export function buildDoc(params: BuildDocParams): Doc {
  const { vocab, tokenizer, source, codes, maxTextTokens } = params;
  let textIds = textToVocab(vocab, tokenizer.encode(params.text.normalize("NFC")));
  if (maxTextTokens !== undefined && textIds.length > maxTextTokens)
    textIds = textIds.slice(0, maxTextTokens);
  if (!codes) return { tokens: [BOS, ...textIds, EOS], source, kind: "text" };
  const image = [BOI, ...codesToVocab(vocab, codes), EOI];
  const kind = params.direction ?? "text2image";
  const tokens = kind === "text2image" ? [BOS, ...textIds, ...image, EOS] : [BOS, ...image, ...textIds, EOS];
  return { tokens, source, kind };
}

export interface Batch {
  B: number;
  T: number;
  /** [B*T] unified ids fed to the model. */
  inputs: Int32Array;
  /** [B*T] next-token targets. */
  targets: Int32Array;
  /** [B*T] document index of each input position (attention stays within equal ids). */
  docIds: Int32Array;
  /** [B*T] 1 where the target counts for the loss. */
  lossMask: Float32Array;
  /** [B*T] index into `sources` of the target token's document. */
  sourceIdx: Int32Array;
  /**
   * [B*T] 0 text/special target, 1 image-code target, 2 image-code target of a text→image document
   * (a code drawn after its caption: `training.loss_weight_image_captioned` weights these apart).
   */
  modality: Uint8Array;
  sources: string[];
}

export interface PackerState {
  tokens: number[];
  docIds: number[];
  sources: number[];
  /** 1 where the token belongs to a text→image document; absent in states saved before it existed. */
  captioned?: number[];
  nextDoc: number;
  sourceNames: string[];
}

/** Streams documents into fixed [B, T] windows; its state (the unfinished tail) is small JSON. */
export class Packer {
  private tokens: number[] = [];
  private docIds: number[] = [];
  private sources: number[] = [];
  private captioned: number[] = [];
  private nextDoc = 0;
  private readonly sourceNames: string[];

  constructor(
    readonly params: {
      vocab: Vocab;
      seqLen: number;
      batchSize: number;
      sources: string[];
      state?: PackerState;
      /**
       * Keep documents whole: a document that would straddle a window edge but fits in one window
       * starts the next window instead (the rest of the current one is <pad>, masked out of the
       * loss). Without it an image→caption document is often cut between its codes and its caption,
       * and the caption is then learnt without its image.
       */
      wholeDocs?: boolean;
    },
  ) {
    this.sourceNames = [...params.sources];
    const s = params.state;
    if (s) {
      this.tokens = [...s.tokens];
      this.docIds = [...s.docIds];
      this.sources = [...s.sources];
      // an older state's tail (at most one window) counts as image-first: the weights it trained with
      this.captioned = s.captioned ? [...s.captioned] : s.tokens.map(() => 0);
      this.nextDoc = s.nextDoc;
      for (const n of s.sourceNames) if (!this.sourceNames.includes(n)) this.sourceNames.push(n);
    }
  }

  /** Tokens needed before `batch()` can emit. */
  get ready(): boolean {
    return this.tokens.length >= this.params.batchSize * this.params.seqLen + 1;
  }

  push(doc: Doc): void {
    let s = this.sourceNames.indexOf(doc.source);
    if (s < 0) s = this.sourceNames.push(doc.source) - 1;
    const T = this.params.seqLen;
    const r = this.tokens.length % T;
    if (this.params.wholeDocs && r !== 0 && r + doc.tokens.length > T + 1 && doc.tokens.length <= T + 1) {
      const padId = this.nextDoc++;
      for (let i = r; i < T; i++) {
        this.tokens.push(PAD);
        this.docIds.push(padId);
        this.sources.push(s);
        this.captioned.push(0);
      }
    }
    const id = this.nextDoc++;
    const captioned = doc.kind === "text2image" ? 1 : 0;
    for (const t of doc.tokens) {
      this.tokens.push(t);
      this.docIds.push(id);
      this.sources.push(s);
      this.captioned.push(captioned);
    }
  }

  /** Emit one batch (call when `ready`; with `pad`, a short tail is padded and masked instead). */
  batch(pad = false): Batch {
    const { seqLen: T, batchSize: B, vocab } = this.params;
    if (!this.ready && !pad) throw new Error("Packer.batch() called before enough tokens were pushed");
    const n = B * T;
    const inputs = new Int32Array(n);
    const targets = new Int32Array(n);
    const docIds = new Int32Array(n).fill(-1);
    const lossMask = new Float32Array(n);
    const sourceIdx = new Int32Array(n);
    const modality = new Uint8Array(n);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        const i = b * T + t;
        const j = i; // window b starts at b*T in the buffer; windows share their edge token
        if (j + 1 >= this.tokens.length) {
          inputs[i] = j < this.tokens.length ? this.tokens[j]! : PAD;
          targets[i] = PAD;
          docIds[i] = j < this.tokens.length ? this.docIds[j]! : -1 - b; // pads attend only to pads
          continue;
        }
        inputs[i] = this.tokens[j]!;
        targets[i] = this.tokens[j + 1]!;
        docIds[i] = this.docIds[j]!;
        sourceIdx[i] = this.sources[j + 1]!;
        const crossesDoc = this.docIds[j] !== this.docIds[j + 1];
        lossMask[i] = crossesDoc || targets[i] === PAD ? 0 : 1;
        modality[i] = kindOf(vocab, targets[i]!) === "image" ? 1 + this.captioned[j + 1]! : 0;
      }
    }
    const used = Math.min(n, this.tokens.length);
    this.tokens = this.tokens.slice(used);
    this.docIds = this.docIds.slice(used);
    this.sources = this.sources.slice(used);
    this.captioned = this.captioned.slice(used);
    return { B, T, inputs, targets, docIds, lossMask, sourceIdx, modality, sources: [...this.sourceNames] };
  }

  state(): PackerState {
    return {
      tokens: [...this.tokens],
      docIds: [...this.docIds],
      sources: [...this.sources],
      captioned: [...this.captioned],
      nextDoc: this.nextDoc,
      sourceNames: [...this.sourceNames],
    };
  }
}

/** Mark a token as an end-of-document special (used by generation to stop). */
export const isStop = (id: number) => id === EOS || id === PAD;
export { BOI, BOS, EOI, EOS, PAD };
