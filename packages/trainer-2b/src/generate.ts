// Sampling from a trained model: text continuation, caption → image codes (decoded through the
// VQ to PNG), image → caption. Seeded (temperature + top-k), so a report is reproducible.
import type { ImageCoder } from "./data.js";
import { documentMask, type Transformer } from "./model.js";
import { createRng } from "./rng.js";
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

export interface SampleParams {
  model: Transformer;
  prompt: number[];
  maxNewTokens: number;
  /** Only ids in [lo, hi) may be sampled, plus `stop` ids. */
  allowed: { lo: number; hi: number };
  stop?: number[];
  temperature?: number;
  topK?: number;
  seed?: number;
}

/** Autoregressive sampling (no KV cache: each step reruns the window, fine for report-sized outputs). */
export function sampleTokens(params: SampleParams): number[] {
  const { model, allowed, stop = [], maxNewTokens } = params;
  const tf = model.tf;
  const temperature = params.temperature ?? 0.8;
  const topK = params.topK ?? 40;
  const rng = createRng(params.seed ?? 0);
  const seq = [...params.prompt];
  const out: number[] = [];
  const T = model.cfg.seqLen;
  for (let i = 0; i < maxNewTokens; i++) {
    const window = seq.slice(-T);
    const logits = tf.tidy(() => {
      const x = tf.tensor2d(Int32Array.from(window), [1, window.length], "int32");
      const mask = documentMask(tf, new Int32Array(window.length), 1, window.length);
      const all = model.forward(x, mask); // [1, t, V]
      return tf.slice(all, [0, window.length - 1, 0], [1, 1, -1]).dataSync() as Float32Array;
    });
    const cands: { id: number; l: number }[] = [];
    for (let id = 0; id < logits.length; id++) {
      if ((id >= allowed.lo && id < allowed.hi) || stop.includes(id)) cands.push({ id, l: logits[id]! });
    }
    cands.sort((a, b) => b.l - a.l);
    const top = cands.slice(0, Math.max(1, topK));
    let next: number;
    if (temperature <= 0) next = top[0]!.id;
    else {
      const m = top[0]!.l;
      const w = top.map((c) => Math.exp((c.l - m) / temperature));
      let r = rng.next() * w.reduce((a, b) => a + b, 0);
      let k = 0;
      for (; k < w.length - 1; k++) {
        r -= w[k]!;
        if (r <= 0) break;
      }
      next = top[k]!.id;
    }
    if (stop.includes(next)) break;
    seq.push(next);
    out.push(next);
  }
  return out;
}

export interface GenerateParams {
  model: Transformer;
  tokenizer: Tokenizer;
  vocab: Vocab;
  vq?: ImageCoder | null;
  temperature?: number;
  topK?: number;
  seed?: number;
  maxNewTokens?: number;
}

export type GenerateRequest =
  | { kind: "text"; prompt: string }
  | { kind: "caption2image"; caption: string }
  | { kind: "image2caption"; image: Uint8Array | Int32Array };

export type GenerateResult =
  | { kind: "text"; text: string }
  | { kind: "caption2image"; codes: Int32Array; png: Uint8Array | null }
  | { kind: "image2caption"; text: string };

/** One generation: `{ kind: "text", prompt }`, `{ kind: "caption2image", caption }` or `{ kind: "image2caption", image }` (bytes or codes). */
export async function generate(params: GenerateParams, request: GenerateRequest): Promise<GenerateResult> {
  const { model, tokenizer, vocab, vq } = params;
  const common = {
    model,
    ...(params.temperature !== undefined ? { temperature: params.temperature } : {}),
    ...(params.topK !== undefined ? { topK: params.topK } : {}),
    seed: params.seed ?? 0,
  };
  const textRange = { lo: vocab.textOffset, hi: vocab.imageOffset };
  const maxText = params.maxNewTokens ?? 48;
  if (request.kind === "text") {
    const prompt = [BOS, ...textToVocab(vocab, tokenizer.encode(request.prompt.normalize("NFC")))];
    const ids = sampleTokens({ ...common, prompt, maxNewTokens: maxText, allowed: textRange, stop: [EOS] });
    return { kind: "text", text: request.prompt + tokenizer.decode(vocabToText(vocab, ids)) };
  }
  if (request.kind === "caption2image") {
    if (!vq) throw new Error("caption → image needs the VQ checkpoint (--vq-checkpoint)");
    const prompt = [BOS, ...textToVocab(vocab, tokenizer.encode(request.caption.normalize("NFC"))), BOI];
    const ids = sampleTokens({
      ...common,
      prompt,
      maxNewTokens: vq.tokensPerImage,
      allowed: { lo: vocab.imageOffset, hi: vocab.size },
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
  const prompt = [BOS, BOI, ...codesToVocab(vocab, codes), EOI];
  const ids = sampleTokens({ ...common, prompt, maxNewTokens: maxText, allowed: textRange, stop: [EOS] });
  return { kind: "image2caption", text: tokenizer.decode(vocabToText(vocab, ids)) };
}
