import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { writeFileAtomic } from "@laion/cli-kit";
import { type BackendName, currentBackend, selectBackend } from "./backend.js";
import { type VQConfig, validateConfig } from "./config.js";
import { floatToPng, imageToFloat } from "./images.js";
import { decoderForward, encoderForward, initParams, type Params, paramSpecs } from "./model.js";
import { createQuantizerState, l2Normalize, nearestCodes, type QuantizerState } from "./quantizer.js";
import { loadSafetensors, type SafeTensor, saveSafetensors } from "./safetensors.js";
import * as tf from "./tfjs.js";
import { type VqIdentity, vqIdentityId } from "./vq-identity.js";

/** Public face of a trained tokenizer. */
export interface VQModel {
  config: VQConfig;
  /** Code grid side: imageSize / downsample. */
  gridSize: number;
  /** gridSize². */
  tokensPerImage: number;
  codebookSize: number;
  /** images [n,H,W,3] in [0,1] (H = W = imageSize) → codes [n,g,g] (row-major). */
  encode(images: Float32Array, n: number): Promise<Int32Array>;
  /** codes [n,g,g] → images [n,H,W,3] in [0,1]. */
  decode(codes: Int32Array, n: number): Promise<Float32Array>;
  /** Any sharp-readable image bytes → centre-cropped, resized, encoded: one Int32Array [g·g] per image. */
  encodeImageBytes(images: Uint8Array[]): Promise<Int32Array[]>;
  /** One image's codes [g·g] → PNG bytes. */
  decodeToPng(codes: Int32Array): Promise<Uint8Array>;
  /** Hash of the config and every tensor (see VqIdentity): equal ids ⇔ the same codes for the same image. */
  identityId(): Promise<string>;
  /** The codebook, row-major [codebookSize, dim]: what each code stands for in the decoder's latent space. */
  codebookVectors(): Promise<{ data: Float32Array; dim: number }>;
  dispose(): void;
}

export const CHECKPOINT_FORMAT = "laion-vq";
export const CHECKPOINT_VERSION = "1";
const QUANT_NAMES = ["quant.codebook", "quant.ema_count", "quant.ema_sum", "quant.unused_steps"] as const;
/** Images per forward pass in encode/decode: bounds memory for large inputs. */
const CHUNK = 32;

/** Expected checkpoint tensors (name → shape) for a config. */
export function checkpointShapes(config: VQConfig): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const [name, spec] of Object.entries(paramSpecs(config))) shapes[name] = spec.shape;
  shapes["quant.codebook"] = [config.codebookSize, config.codeDim];
  shapes["quant.ema_count"] = [config.codebookSize];
  shapes["quant.ema_sum"] = [config.codebookSize, config.codeDim];
  shapes["quant.unused_steps"] = [config.codebookSize];
  return shapes;
}

/** The model, its variables and quantiser state (the trainer uses the internals; users see VQModel). */
export class VQ implements VQModel {
  readonly gridSize: number;
  readonly tokensPerImage: number;
  readonly codebookSize: number;

  constructor(
    readonly config: VQConfig,
    readonly params: Params,
    readonly quant: QuantizerState,
  ) {
    this.gridSize = config.imageSize / config.downsample;
    this.tokensPerImage = this.gridSize * this.gridSize;
    this.codebookSize = config.codebookSize;
  }

  /** A freshly initialised model (seeded). */
  static create(config: VQConfig, seed: number): VQ {
    validateConfig(config);
    const { params, prefix } = initParams(config, seed);
    return new VQ(config, params, createQuantizerState(config.codebookSize, config.codeDim, seed, prefix));
  }

  /** Trainable variables in a fixed order (the optimizer's slot order depends on it). */
  trainable(): tf.Variable[] {
    return Object.keys(this.params)
      .sort()
      .map((k) => this.params[k] as tf.Variable);
  }

  /** images [n,H,W,3] → unit-norm features [n·g·g, D]. */
  features(images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() =>
      l2Normalize(tf.reshape(encoderForward(this.params, this.config, images), [-1, this.config.codeDim])),
    );
  }

  /** codes [M] → images [n,H,W,3] in [0,1]. */
  decodeTensor(codes: tf.Tensor1D, n: number): tf.Tensor4D {
    return tf.tidy(() => {
      const g = this.gridSize;
      const q = tf.reshape(tf.gather(this.quant.codebook, codes), [
        n,
        g,
        g,
        this.config.codeDim,
      ]) as tf.Tensor4D;
      return tf.clipByValue(
        tf.div(tf.add(decoderForward(this.params, this.config, q), 1), 2),
        0,
        1,
      ) as tf.Tensor4D;
    });
  }

  // Reads are `await data()`: webgpu's synchronous read needs a browser canvas.
  async encode(images: Float32Array, n: number): Promise<Int32Array> {
    const S = this.config.imageSize;
    if (images.length !== n * S * S * 3) {
      throw new Error(`encode: expected ${n}×${S}×${S}×3 = ${n * S * S * 3} values, got ${images.length}`);
    }
    const out = new Int32Array(n * this.tokensPerImage);
    for (let i = 0; i < n; i += CHUNK) {
      const m = Math.min(CHUNK, n - i);
      const codes = tf.tidy(() => {
        const x = tf.tensor4d(images.subarray(i * S * S * 3, (i + m) * S * S * 3), [m, S, S, 3]);
        return nearestCodes(this.features(x), this.quant.codebook as tf.Tensor2D);
      });
      out.set((await codes.data()) as Int32Array, i * this.tokensPerImage);
      codes.dispose();
    }
    return out;
  }

  async codebookVectors(): Promise<{ data: Float32Array; dim: number }> {
    return { data: Float32Array.from(await this.quant.codebook.data()), dim: this.config.codeDim };
  }

  async decode(codes: Int32Array, n: number): Promise<Float32Array> {
    const T = this.tokensPerImage;
    if (codes.length !== n * T) throw new Error(`decode: expected ${n}×${T} codes, got ${codes.length}`);
    for (const c of codes) {
      if (c < 0 || c >= this.codebookSize)
        throw new Error(`decode: code ${c} is outside [0, ${this.codebookSize})`);
    }
    const S = this.config.imageSize;
    const out = new Float32Array(n * S * S * 3);
    for (let i = 0; i < n; i += CHUNK) {
      const m = Math.min(CHUNK, n - i);
      const img = tf.tidy(() =>
        this.decodeTensor(tf.tensor1d(codes.subarray(i * T, (i + m) * T), "int32"), m),
      );
      out.set((await img.data()) as Float32Array, i * S * S * 3);
      img.dispose();
    }
    return out;
  }

  async encodeImageBytes(images: Uint8Array[]): Promise<Int32Array[]> {
    const S = this.config.imageSize;
    const pixels = new Float32Array(images.length * S * S * 3);
    for (let i = 0; i < images.length; i++)
      pixels.set(await imageToFloat(images[i] as Uint8Array, S), i * S * S * 3);
    const codes = await this.encode(pixels, images.length);
    return images.map((_, i) => codes.slice(i * this.tokensPerImage, (i + 1) * this.tokensPerImage));
  }

  async decodeToPng(codes: Int32Array): Promise<Uint8Array> {
    const S = this.config.imageSize;
    return floatToPng(await this.decode(codes, 1), S, S);
  }

  async identityId(): Promise<string> {
    return vqIdentityId(this.config, await this.toTensors());
  }

  /** All state as safetensors tensors (clean names, no registry prefix). */
  async toTensors(): Promise<Record<string, SafeTensor>> {
    const out: Record<string, SafeTensor> = {};
    const add = async (name: string, v: tf.Variable) => {
      out[name] = { dtype: "F32", shape: v.shape, data: (await v.data()) as Float32Array };
    };
    for (const [name, v] of Object.entries(this.params)) await add(name, v);
    await add("quant.codebook", this.quant.codebook);
    await add("quant.ema_count", this.quant.emaCount);
    await add("quant.ema_sum", this.quant.emaSum);
    out["quant.unused_steps"] = {
      dtype: "F32",
      shape: [this.codebookSize],
      data: Float32Array.from(this.quant.unused),
    };
    return out;
  }

  /** Copy checkpoint tensors into the variables, after checking every name and shape. */
  assignTensors(tensors: Record<string, SafeTensor>, source: string): void {
    const expected = checkpointShapes(this.config);
    for (const [name, shape] of Object.entries(expected)) {
      const t = tensors[name];
      if (!t) throw new Error(`${source}: missing tensor "${name}" (expected shape [${shape}])`);
      if (t.dtype !== "F32") throw new Error(`${source}: tensor "${name}" is ${t.dtype}, expected F32`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`${source}: tensor "${name}" has shape [${t.shape}] but the config needs [${shape}]`);
      }
    }
    const extra = Object.keys(tensors).filter((k) => !(k in expected));
    if (extra.length > 0)
      throw new Error(`${source}: unexpected tensor "${extra[0]}" (${extra.length} not in this config)`);
    tf.tidy(() => {
      for (const [name, v] of Object.entries(this.params))
        v.assign(tf.tensor((tensors[name] as SafeTensor).data as Float32Array, v.shape));
      const q = this.quant;
      for (const [name, v] of [
        [QUANT_NAMES[0], q.codebook],
        [QUANT_NAMES[1], q.emaCount],
        [QUANT_NAMES[2], q.emaSum],
      ] as const) {
        v.assign(tf.tensor((tensors[name] as SafeTensor).data as Float32Array, v.shape));
      }
    });
    this.quant.unused.set((tensors[QUANT_NAMES[3]] as SafeTensor).data as Float32Array);
  }

  dispose(): void {
    for (const v of Object.values(this.params)) v.dispose();
    this.quant.codebook.dispose();
    this.quant.emaCount.dispose();
    this.quant.emaSum.dispose();
  }
}

/** Sidecar path for a checkpoint: `<out>.json`. */
export const sidecarPath = (path: string) => `${path}.json`;

/**
 * Save weights + quantiser state as safetensors at `path` (whatever its extension — a `.pt` name holds
 * safetensors too), with the config in the metadata and in a `<path>.json` sidecar. Both written atomically.
 */
export async function saveVQ(
  model: VQ,
  path: string,
  extra: Record<string, string | number> = {},
): Promise<void> {
  const meta: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    config: JSON.stringify(model.config),
  };
  for (const [k, v] of Object.entries(extra)) meta[k] = String(v);
  await saveSafetensors(path, await model.toTensors(), meta);
  const sidecar = {
    ...meta,
    config: model.config,
    format_note: "weights are safetensors, whatever the file extension",
  };
  await writeFileAtomic(sidecarPath(path), `${JSON.stringify(sidecar, null, 2)}\n`);
}

async function readConfig(path: string, metadata: Record<string, string>): Promise<VQConfig> {
  let raw = metadata.config;
  if (raw === undefined) {
    try {
      raw = JSON.stringify(JSON.parse(await readFile(sidecarPath(path), "utf8")).config);
    } catch {
      throw new Error(
        `${path}: no VQ config in the safetensors metadata and no readable ${sidecarPath(path)}`,
      );
    }
  }
  try {
    return validateConfig(JSON.parse(raw) as VQConfig);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

/**
 * The identity of a checkpoint file without building the model (no tfjs): the same id `loadVQ(path).identityId()`
 * gives, for status checks that must not pay for a model.
 */
export async function vqCheckpointIdentity(path: string): Promise<VqIdentity> {
  const { tensors, metadata } = await loadSafetensors(path);
  const config = await readConfig(path, metadata);
  return {
    id: vqIdentityId(config, tensors),
    checkpoint: basename(path),
    image_size: config.imageSize,
    grid_size: config.imageSize / config.downsample,
    codebook_size: config.codebookSize,
  };
}

/** Load a checkpoint written by trainVQ/saveVQ into a VQ model (on the current or requested backend). */
export async function loadVQ(path: string, params: { backend?: BackendName } = {}): Promise<VQ> {
  if (params.backend) await selectBackend({ prefer: params.backend });
  else await ensureBackend();
  const { tensors, metadata } = await loadSafetensors(path);
  if (metadata.format !== undefined && metadata.format !== CHECKPOINT_FORMAT) {
    throw new Error(`${path}: not a VQ checkpoint (format "${metadata.format}")`);
  }
  const config = await readConfig(path, metadata);
  const model = VQ.create(config, 0);
  try {
    model.assignTensors(tensors, path);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/** Pick the default backend if the caller has not chosen one (never switches a chosen one). */
export async function ensureBackend(): Promise<void> {
  if (currentBackend() === undefined) await selectBackend();
}
