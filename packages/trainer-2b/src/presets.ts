// Named model shapes, from the 2-core demo to the real 2B. `vocab` is not part of a preset: it is
// fixed by the tokenizer (text_vocab) and the VQ codebook (see vocab.ts).
export interface Preset {
  dModel: number;
  nLayers: number;
  nHeads: number;
  dFF: number;
  seqLen: number;
  /** Text vocabulary the tokenizer is trained to (256 bytes + merges). */
  textVocab: number;
  /** Codebook assumed when no VQ checkpoint is at hand (dry runs). */
  codebookSize: number;
}

export const PRESETS = {
  /** Unit tests: trains in seconds on the cpu backend. */
  tiny: { dModel: 32, nLayers: 2, nHeads: 2, dFF: 96, seqLen: 32, textVocab: 512, codebookSize: 64 },
  /** Demo: ~1M parameters, learns on 2 CPU cores (wasm) in a few minutes. */
  demo: { dModel: 128, nLayers: 4, nHeads: 4, dFF: 352, seqLen: 128, textVocab: 1024, codebookSize: 256 },
  small: { dModel: 512, nLayers: 8, nHeads: 8, dFF: 1408, seqLen: 512, textVocab: 8192, codebookSize: 1024 },
  base: {
    dModel: 1024,
    nLayers: 16,
    nHeads: 16,
    dFF: 2816,
    seqLen: 1024,
    textVocab: 16384,
    codebookSize: 4096,
  },
  "1b": {
    dModel: 2048,
    nLayers: 16,
    nHeads: 16,
    dFF: 5632,
    seqLen: 2048,
    textVocab: 32768,
    codebookSize: 8192,
  },
  /** The real 2B: d_model 2560, 24 layers, 20 heads of 128, SwiGLU 6912, 2048 context → 2.008e9 params. */
  "2b": {
    dModel: 2560,
    nLayers: 24,
    nHeads: 20,
    dFF: 6912,
    seqLen: 2048,
    textVocab: 32768,
    codebookSize: 8192,
  },
} as const satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];
