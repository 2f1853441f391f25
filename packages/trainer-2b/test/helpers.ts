import { fixturePath } from "@laion/test-servers";
import { selectBackend } from "@laion/vq";
import { parseConfig } from "../src/config.js";
import type { ModelConfig, Tf } from "../src/model.js";

/** The cpu backend: deterministic float32, has every kernel (incl. the gather gradient). */
export async function cpuTf(): Promise<Tf> {
  return (await selectBackend({ prefer: "cpu" })).tf;
}

import sharp from "sharp";
import type { ImageCoder } from "../src/data.js";

/** A stand-in VQ for tests: codes are a hash of the image bytes; decoding paints a flat PNG. */
export function fakeVq(codebookSize = 16, tokensPerImage = 4): ImageCoder & { encoded: number } {
  const vq = {
    codebookSize,
    tokensPerImage,
    encoded: 0,
    async encodeImageBytes(images: Uint8Array[]) {
      return images.map((bytes) => {
        vq.encoded++;
        const codes = new Int32Array(tokensPerImage);
        let h = 2166136261;
        for (let i = 0; i < bytes.length; i += 7) {
          h = Math.imul(h ^ bytes[i]!, 16777619) >>> 0;
          codes[i % tokensPerImage] = h % codebookSize;
        }
        return codes;
      });
    },
    // code c's vector: (c mod 4, ⌊c / 4⌋, 1) — codes 4 apart share a "colour", like a VQ's codebook
    async codebookVectors() {
      const data = new Float32Array(codebookSize * 3);
      for (let c = 0; c < codebookSize; c++) data.set([c % 4, Math.floor(c / 4), 1], c * 3);
      return { data, dim: 3 };
    },
    async decodeToPng(codes: Int32Array) {
      const v = (codes[0]! * 16) % 256;
      return new Uint8Array(
        await sharp({ create: { width: 8, height: 8, channels: 3, background: { r: v, g: 0, b: 255 - v } } })
          .png()
          .toBuffer(),
      );
    },
  };
  return vq;
}

/** A model small enough for gradient checks and thread tests: 2 layers of width 16 over `vocabSize` tokens, 8 positions. */
export function tinyModel(vocabSize: number): ModelConfig {
  return {
    vocabSize,
    dModel: 16,
    nLayers: 2,
    nHeads: 2,
    dFF: 32,
    seqLen: 8,
    ropeTheta: 10000,
    normEps: 1e-5,
  };
}

/** The tiny model on the real fixtures (Sinhala corpus + captioned photos): what the training tests run. */
export function tinyConfig(
  out: string,
  training: Record<string, unknown> = {},
  data: Record<string, unknown> = {},
  model: Record<string, unknown> = {},
) {
  return parseConfig({
    output_dir: out,
    model: { preset: "tiny", seq_len: 32, text_vocab: 320, ...model },
    data: {
      corpus: [fixturePath("sinhala", "corpus.txt")],
      captions: fixturePath("explicit_media", "captions.json"),
      image_root: fixturePath("explicit_media"),
      held_out_fraction: 0.1,
      ...data,
    },
    training,
  });
}
