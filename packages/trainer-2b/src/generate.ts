// Sampling from a trained model: text continuation, caption → image codes (decoded through the
// VQ to PNG), image → caption. Greedy, or seeded temperature + top-k sampling, so a report is
// reproducible; stop tokens (<eos>) can be held back for the first minNewTokens tokens.

import { Random } from "@laion/mixer";
import type { ImageCoder } from "./data.js";
import { documentMask, KVCache, type Transformer } from "./model.js";
import type { Tokenizer } from "./tokenizer.js";
import {
  BOI,
  BOS,
  codesToVocab,
  EOI,
  EOS,
  textToVocab,
  type Vocab,
  vocabToCodes,
  vocabToText,
} from "./vocab.js";

/** How each next token is chosen. */
export interface DecodeOptions {
  /** Always take the most likely allowed token (the same as temperature 0). */
  greedy?: boolean;
  /** Softmax temperature (default 0.8); 0 means greedy. */
  temperature?: number;
  /** Sample among the k most likely allowed tokens (default 40); 0 = all of them. */
  topK?: number;
  /**
   * Stop tokens are masked until this many tokens have been produced (default 0). A model that has
   * seen `<eoi> <eos>` ending every text→image document rates `<eos>` high right after `<eoi>`, so
   * image → caption asks for at least one token: a caption is never empty.
   */
  minNewTokens?: number;
  seed?: number;
}

export interface SampleParams extends DecodeOptions {
  model: Transformer;
  prompt: number[];
  maxNewTokens: number;
  /** Only ids in [lo, hi) may be sampled, plus `stop` ids. */
  allowed: { lo: number; hi: number };
  stop?: number[];
  /**
   * Conditioning strength (classifier-free guidance): each step's logits become
   * u + guidance · (c − u), c from `prompt`, u from `unconditionalPrompt`, both followed by the tokens
   * generated so far. 1 = the prompt alone; > 1 pushes away from what the model would do without it.
   */
  guidance?: { scale: number; unconditionalPrompt: number[] };
}

export interface Sampled {
  /** The new tokens, without the stop token. */
  ids: number[];
  /** "stop": a stop token ended it; "length": maxNewTokens was reached first. */
  finish: "stop" | "length";
}

/**
 * One decoding step on the last position's logits: the candidates are the allowed ids (and the stop
 * ids once `produced >= minNewTokens`), cut to the top k; greedy takes the first, otherwise one is
 * drawn from softmax(logit / temperature) over them. Pure given `rng`.
 */
export function pickToken(
  logits: ArrayLike<number>,
  p: DecodeOptions & { allowed: { lo: number; hi: number }; stop: number[]; produced: number },
  rng: { next(): number },
): number {
  const temperature = p.greedy ? 0 : (p.temperature ?? 0.8);
  if (!(temperature >= 0)) throw new Error(`temperature must be >= 0, got ${p.temperature}`);
  const topK = p.topK ?? 40;
  if (!(Number.isInteger(topK) && topK >= 0)) throw new Error(`topK must be an integer >= 0, got ${p.topK}`);
  const stopOk = p.produced >= (p.minNewTokens ?? 0);
  const cands: { id: number; l: number }[] = [];
  for (let id = p.allowed.lo; id < Math.min(p.allowed.hi, logits.length); id++)
    cands.push({ id, l: logits[id]! });
  if (stopOk)
    for (const id of p.stop) if (id < p.allowed.lo || id >= p.allowed.hi) cands.push({ id, l: logits[id]! });
  if (cands.length === 0)
    throw new Error(`no token may be generated: allowed ids [${p.allowed.lo}, ${p.allowed.hi})`);
  cands.sort((a, b) => b.l - a.l || a.id - b.id);
  const top = topK > 0 ? cands.slice(0, topK) : cands;
  if (temperature === 0) return top[0]!.id;
  const m = top[0]!.l;
  const w = top.map((c) => Math.exp((c.l - m) / temperature));
  let r = rng.next() * w.reduce((a, b) => a + b, 0);
  for (let k = 0; k < w.length; k++) {
    r -= w[k]!;
    if (r < 0) return top[k]!.id;
  }
  return top.at(-1)!.id;
}

/** The logits of the token after `seq` (its last seqLen tokens), the whole window read again. */
async function windowLogits(model: Transformer, seq: number[]): Promise<Float32Array> {
  const tf = model.tf;
  const window = seq.slice(-model.cfg.seqLen);
  const last = tf.tidy(() => {
    const x = tf.tensor2d(Int32Array.from(window), [1, window.length], "int32");
    const mask = documentMask(tf, new Int32Array(window.length), 1, window.length);
    const all = model.forward(x, mask, model.cells(window, 1, window.length)); // [1, t, V]
    return tf.slice(all, [0, window.length - 1, 0], [1, 1, -1]);
  });
  // `await data()`: webgpu's synchronous read needs a browser canvas
  const logits = (await last.data()) as Float32Array;
  last.dispose();
  return logits;
}

/**
 * The logits after a growing sequence: the keys and values of the tokens read so far are cached, so
 * each step reads only the new ones (an image of 256 codes costs one window's work, not 256). Past
 * the model's window the last seqLen tokens are read again at every step, as training saw them.
 */
class Decoder {
  private readonly cache = new KVCache();

  constructor(private readonly model: Transformer) {}

  async next(seq: number[]): Promise<Float32Array> {
    const { model } = this;
    if (seq.length > model.cfg.seqLen) {
      this.cache.dispose();
      return windowLogits(model, seq);
    }
    const fresh = seq.slice(this.cache.length);
    const tf = model.tf;
    const last = tf.tidy(() => {
      const x = tf.tensor2d(Int32Array.from(fresh), [1, fresh.length], "int32");
      const cells = model.cells(seq, 1, seq.length, this.cache.length);
      const all = model.forwardCached(x, this.cache, cells); // [1, fresh, V]
      return tf.slice(all, [0, fresh.length - 1, 0], [1, 1, -1]);
    });
    const logits = (await last.data()) as Float32Array;
    last.dispose();
    return logits;
  }

  dispose(): void {
    this.cache.dispose();
  }
}

/** Autoregressive decoding, with a key/value cache (see Decoder). */
export async function sampleTokens(params: SampleParams): Promise<Sampled> {
  const { model, allowed, stop = [], maxNewTokens, guidance } = params;
  const rng = new Random(params.seed ?? 0);
  const seq = [...params.prompt];
  const uncond = guidance ? [...guidance.unconditionalPrompt] : [];
  const ids: number[] = [];
  const conditional = new Decoder(model);
  const unconditional = new Decoder(model);
  try {
    for (let i = 0; i < maxNewTokens; i++) {
      const logits = await conditional.next(seq);
      if (guidance && guidance.scale !== 1) {
        const u = await unconditional.next(uncond);
        for (let k = 0; k < logits.length; k++) logits[k] = u[k]! + guidance.scale * (logits[k]! - u[k]!);
      }
      const next = pickToken(logits, { ...params, allowed, stop, produced: ids.length }, rng);
      if (stop.includes(next)) return { ids, finish: "stop" };
      seq.push(next);
      uncond.push(next);
      ids.push(next);
    }
    return { ids, finish: "length" };
  } finally {
    conditional.dispose();
    unconditional.dispose();
  }
}

export interface GenerateParams extends DecodeOptions {
  model: Transformer;
  tokenizer: Tokenizer;
  vocab: Vocab;
  vq?: ImageCoder | null;
  /** Longest text generated (default 48); an image is always the VQ's tokensPerImage codes. */
  maxNewTokens?: number;
  /**
   * caption → image: conditioning strength (default 1, the caption alone). The unconditional model is
   * the one every image → caption document trains: `<bos> <boi>` then codes, no caption before them.
   */
  guidance?: number;
}

export type GenerateRequest =
  | { kind: "text"; prompt: string }
  | { kind: "caption2image"; caption: string }
  | { kind: "image2caption"; image: Uint8Array | Int32Array };

export type GenerateResult =
  | { kind: "text"; text: string; finish: Sampled["finish"] }
  | { kind: "caption2image"; codes: Int32Array; png: Uint8Array | null }
  | { kind: "image2caption"; text: string; finish: Sampled["finish"] };

/** One generation: `{ kind: "text", prompt }`, `{ kind: "caption2image", caption }` or `{ kind: "image2caption", image }` (bytes or codes). */
export async function generate(params: GenerateParams, request: GenerateRequest): Promise<GenerateResult> {
  const { model, tokenizer, vocab, vq } = params;
  const common: DecodeOptions & { model: Transformer } = {
    model,
    greedy: params.greedy ?? false,
    ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
    ...(params.topK !== undefined ? { topK: params.topK } : {}),
    seed: params.seed ?? 0,
  };
  // Text up to <eos>; `minTokens` is the default of minNewTokens for this kind of request.
  const text = async (prompt: number[], minTokens: number) => {
    const r = await sampleTokens({
      ...common,
      minNewTokens: params.minNewTokens ?? minTokens,
      prompt,
      maxNewTokens: params.maxNewTokens ?? 48,
      allowed: { lo: vocab.textOffset, hi: vocab.imageOffset },
      stop: [EOS],
    });
    return { text: tokenizer.decode(vocabToText(vocab, r.ids)), finish: r.finish };
  };
  if (request.kind === "text") {
    const r = await text([BOS, ...textToVocab(vocab, tokenizer.encode(request.prompt.normalize("NFC")))], 0);
    return {
      kind: "text",
      text: request.prompt + r.text,
      finish: r.finish,
    };
  }
  if (request.kind === "caption2image") {
    if (!vq) throw new Error("caption → image needs the VQ checkpoint (--vq-checkpoint)");
    const prompt = [BOS, ...textToVocab(vocab, tokenizer.encode(request.caption.normalize("NFC"))), BOI];
    const scale = params.guidance ?? 1;
    if (!(scale >= 0)) throw new Error(`guidance must be >= 0, got ${params.guidance}`);
    const { ids } = await sampleTokens({
      ...common,
      prompt,
      maxNewTokens: vq.tokensPerImage,
      allowed: { lo: vocab.imageOffset, hi: vocab.size },
      ...(scale !== 1 ? { guidance: { scale, unconditionalPrompt: [BOS, BOI] } } : {}),
    });
    const codes = Int32Array.from(vocabToCodes(vocab, ids));
    return {
      kind: "caption2image",
      codes,
      png: codes.length === vq.tokensPerImage ? await vq.decodeToPng(codes) : null,
    };
  }
  let codes: Int32Array;
  if (request.image instanceof Int32Array) codes = request.image;
  else {
    if (!vq) throw new Error("image → caption needs the VQ checkpoint (--vq-checkpoint)");
    codes = (await vq.encodeImageBytes([request.image]))[0]!;
  }
  // A caption is never empty: <eos> is held back for the first token (see DecodeOptions.minNewTokens).
  return { kind: "image2caption", ...(await text([BOS, BOI, ...codesToVocab(vocab, codes), EOI], 1)) };
}

type Finished = { text: string; finish: Sampled["finish"] };

/** Whether a batch can be decoded in one cache: equal prompts that stay in the window, no grid cells. */
function batchable(model: Transformer, prompts: number[][], maxNewTokens: number): boolean {
  const L = prompts[0]!.length;
  const grid = (model.cfg.image?.side ?? 0) > 0;
  return !grid && prompts.every((r) => r.length === L) && L + maxNewTokens - 1 <= model.cfg.seqLen;
}

/** Indices of `prompts` grouped by length, in chunks of at most `size` (order kept inside a group). */
function chunksByLength(prompts: number[][], size: number): number[][] {
  const groups = new Map<number, number[]>();
  prompts.forEach((p, i) => {
    const g = groups.get(p.length) ?? [];
    g.push(i);
    groups.set(p.length, g);
  });
  const out: number[][] = [];
  for (const g of groups.values()) for (let k = 0; k < g.length; k += size) out.push(g.slice(k, k + size));
  return out;
}

/**
 * image → caption for many images at once: the same captions as `generate` gives each image alone
 * (image i drawn with seed + i), but every decoding step reads all rows in one forward pass, so a
 * benchmark's hundreds of held-out images cost a few batched passes instead of one pass per token
 * per image. Rows that have stopped ride along until the last one stops. A batch whose captions
 * could run past the model's window (or a model with grid positions) is decoded image by image.
 */
export async function captionImages(
  params: GenerateParams,
  images: readonly Int32Array[],
  batchSize = 64,
): Promise<Finished[]> {
  const { tokenizer, vocab } = params;
  const maxNewTokens = params.maxNewTokens ?? 48;
  const prompts = images.map((codes) => [BOS, BOI, ...codesToVocab(vocab, codes), EOI]);
  const seed = params.seed ?? 0;
  const results: Finished[] = new Array(images.length);
  for (const rows of chunksByLength(prompts, batchSize)) {
    if (
      !batchable(
        params.model,
        rows.map((i) => prompts[i]!),
        maxNewTokens,
      )
    ) {
      for (const i of rows) {
        const r = await generate({ ...params, seed: seed + i }, { kind: "image2caption", image: images[i]! });
        if (r.kind === "image2caption") results[i] = { text: r.text, finish: r.finish };
      }
      continue;
    }
    const sampled = await sampleRows(params, {
      prompts: rows.map((i) => prompts[i]!),
      seeds: rows.map((i) => seed + i),
      maxNewTokens,
      allowed: { lo: vocab.textOffset, hi: vocab.imageOffset },
      stop: [EOS],
      minNewTokens: params.minNewTokens ?? 1,
    });
    sampled.forEach((r, k) => {
      results[rows[k]!] = { text: tokenizer.decode(vocabToText(vocab, r.ids)), finish: r.finish };
    });
  }
  return results;
}

/**
 * caption → image for many captions at once: the codes `generate` gives each caption alone (caption
 * i drawn with seed + i, with the same guidance), captions of equal token length decoded together.
 */
export async function drawCaptions(
  params: GenerateParams,
  captions: readonly string[],
  batchSize = 32,
): Promise<{ codes: Int32Array; png: Uint8Array | null }[]> {
  const { model, tokenizer, vocab, vq } = params;
  if (!vq) throw new Error("caption → image needs the VQ checkpoint (--vq-checkpoint)");
  const scale = params.guidance ?? 1;
  if (!(scale >= 0)) throw new Error(`guidance must be >= 0, got ${params.guidance}`);
  const prompts = captions.map((c) => [
    BOS,
    ...textToVocab(vocab, tokenizer.encode(c.normalize("NFC"))),
    BOI,
  ]);
  const seed = params.seed ?? 0;
  const results: { codes: Int32Array; png: Uint8Array | null }[] = new Array(captions.length);
  for (const rows of chunksByLength(prompts, batchSize)) {
    let codes: Int32Array[];
    if (
      !batchable(
        model,
        rows.map((i) => prompts[i]!),
        vq.tokensPerImage,
      )
    ) {
      codes = [];
      for (const i of rows) {
        const r = await generate(
          { ...params, seed: seed + i },
          { kind: "caption2image", caption: captions[i]! },
        );
        if (r.kind === "caption2image") codes.push(r.codes);
      }
    } else {
      const sampled = await sampleRows(params, {
        prompts: rows.map((i) => prompts[i]!),
        seeds: rows.map((i) => seed + i),
        maxNewTokens: vq.tokensPerImage,
        allowed: { lo: vocab.imageOffset, hi: vocab.size },
        stop: [],
        minNewTokens: 0,
        ...(scale !== 1 ? { guidance: { scale, unconditionalPrompt: [BOS, BOI] } } : {}),
      });
      codes = sampled.map((r) => Int32Array.from(vocabToCodes(vocab, r.ids)));
    }
    for (const [k, i] of rows.entries()) {
      const c = codes[k]!;
      results[i] = { codes: c, png: c.length === vq.tokensPerImage ? await vq.decodeToPng(c) : null };
    }
  }
  return results;
}

/** Next-token logits [B, V] for equal-length new tokens of every row, through one key/value cache. */
async function rowLogits(model: Transformer, cache: KVCache, fresh: number[][]): Promise<Float32Array> {
  const tf = model.tf;
  const B = fresh.length;
  const t = fresh[0]!.length;
  const last = tf.tidy(() => {
    const x = tf.tensor2d(Int32Array.from(fresh.flat()), [B, t], "int32");
    return tf.slice(model.forwardCached(x, cache), [0, t - 1, 0], [B, 1, -1]);
  });
  const logits = (await last.data()) as Float32Array;
  last.dispose();
  return logits;
}

/**
 * sampleTokens for equal-length prompts, one row each, decoded together: row b draws with its own
 * `seeds[b]`, so it gets the tokens sampleTokens gives it alone. Rows that stopped are fed <eos>
 * (ignored) until every row has stopped or maxNewTokens is reached.
 */
async function sampleRows(
  params: DecodeOptions & { model: Transformer },
  rows: {
    prompts: number[][];
    seeds: number[];
    maxNewTokens: number;
    allowed: { lo: number; hi: number };
    stop: number[];
    minNewTokens: number;
    guidance?: { scale: number; unconditionalPrompt: number[] };
  },
): Promise<Sampled[]> {
  const { model } = params;
  const B = rows.prompts.length;
  const rngs = rows.seeds.map((s) => new Random(s));
  const out: Sampled[] = rows.prompts.map(() => ({ ids: [], finish: "length" }));
  const done = new Array<boolean>(B).fill(false);
  const pick = {
    greedy: params.greedy ?? false,
    ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
    ...(params.topK !== undefined ? { topK: params.topK } : {}),
    minNewTokens: rows.minNewTokens,
    allowed: rows.allowed,
    stop: rows.stop,
  };
  const g = rows.guidance;
  const conditional = new KVCache();
  const unconditional = new KVCache();
  try {
    let fresh = rows.prompts;
    let freshU = rows.prompts.map(() => g?.unconditionalPrompt ?? []);
    for (let step = 0; step < rows.maxNewTokens && done.includes(false); step++) {
      const logits = await rowLogits(model, conditional, fresh);
      if (g && g.scale !== 1) {
        const u = await rowLogits(model, unconditional, freshU);
        for (let k = 0; k < logits.length; k++) logits[k] = u[k]! + g.scale * (logits[k]! - u[k]!);
      }
      const V = logits.length / B;
      fresh = rows.prompts.map((_, b) => {
        if (done[b]) return [EOS];
        const next = pickToken(logits.subarray(b * V, (b + 1) * V), { ...pick, produced: step }, rngs[b]!);
        if (rows.stop.includes(next)) {
          done[b] = true;
          out[b]!.finish = "stop";
        } else out[b]!.ids.push(next);
        return [next];
      });
      freshU = fresh;
    }
    return out;
  } finally {
    conditional.dispose();
    unconditional.dispose();
  }
}
