// Load a trained checkpoint for generation: model weights, tokenizer, vocabulary and (when the
// checkpoint names one, or one is given) the VQ for images.
import fs from "node:fs";
import { loadCheckpoint } from "./checkpoint.js";
import type { ImageCoder } from "./data.js";
import { type Tf, Transformer } from "./model.js";
import { Tokenizer } from "./tokenizer.js";
import { makeVocab, type Vocab } from "./vocab.js";
import { loadImageCoder } from "./vq-bridge.js";

export interface LoadedModel {
  model: Transformer;
  tokenizer: Tokenizer;
  vocab: Vocab;
  vq: ImageCoder | null;
  step: number;
}

export async function loadForGeneration(params: {
  tf: Tf;
  checkpoint: string;
  vqCheckpoint?: string | null;
  vq?: ImageCoder | null;
}): Promise<LoadedModel> {
  const ck = loadCheckpoint(params.tf, params.checkpoint, false);
  let model: Transformer;
  try {
    model = new Transformer(params.tf, ck.state.model, { weights: ck.weights });
  } catch (err) {
    throw new Error(
      `${ck.dir}: ${(err as Error).message} (its state.json model: ${JSON.stringify(ck.state.model)})`,
    );
  }
  params.tf.dispose(Object.values(ck.weights));
  const tokenizer = Tokenizer.load(ck.state.tokenizer);
  const vocab = makeVocab(ck.state.vocab);
  let vq = params.vq ?? null;
  const vqFile = params.vqCheckpoint ?? ck.state.vqCheckpoint;
  if (!vq && vqFile && vocab.codebookSize > 0) {
    if (!fs.existsSync(vqFile))
      throw new Error(`VQ checkpoint ${vqFile} (named by ${ck.dir}) does not exist; pass --vq-checkpoint`);
    vq = await loadImageCoder(vqFile);
  }
  return { model, tokenizer, vocab, vq, step: ck.state.step };
}
