import { Random } from "@laion/mixer";
import type { VQConfig } from "./config.js";
import { reluConv } from "./fused-conv.js";
import * as tf from "./tfjs.js";

/**
 * The conv encoder/decoder, written as plain ops over named variables (no tf.layers): the names are the
 * checkpoint's tensor names and every op is one the wasm backend runs natively (fused conv + bias + relu).
 *
 *   encoder: conv3×3 3→c0 · [stride-2 conv3×3 c_i→c_{i+1}] × log2(f) · resBlocks · conv1×1 c_L→codeDim
 *   decoder: conv3×3 codeDim→c_L · resBlocks · [nearest ×2, conv3×3 c_{i+1}→c_i] × log2(f) · conv3×3 c0→3
 */

export type Params = Record<string, tf.Variable>;

interface ParamSpec {
  shape: number[];
  /** Initial weights: std = gain·sqrt(1/fanIn); biases are zero. */
  gain: number;
}

/** Name → shape (+ init gain) of every trainable tensor for a config, in a fixed order. */
export function paramSpecs(config: VQConfig): Record<string, ParamSpec> {
  const c = config.channels;
  const L = c.length - 1;
  const top = c[L] as number;
  const D = config.codeDim;
  const specs: Record<string, ParamSpec> = {};
  const conv = (name: string, k: number, cin: number, cout: number, gain: number) => {
    specs[`${name}.w`] = { shape: [k, k, cin, cout], gain };
    specs[`${name}.b`] = { shape: [cout], gain: 0 };
  };
  const relu = Math.SQRT2;
  conv("enc.in", 3, 3, c[0] as number, relu);
  for (let i = 0; i < L; i++) conv(`enc.down${i}`, 3, c[i] as number, c[i + 1] as number, relu);
  for (let j = 0; j < config.resBlocks; j++) {
    conv(`enc.res${j}.a`, 3, top, top, relu);
    conv(`enc.res${j}.b`, 3, top, top, 0.1); // residual branches start small: blocks begin near identity
  }
  conv("enc.out", 1, top, D, 1);
  conv("dec.in", 3, D, top, relu);
  for (let j = 0; j < config.resBlocks; j++) {
    conv(`dec.res${j}.a`, 3, top, top, relu);
    conv(`dec.res${j}.b`, 3, top, top, 0.1);
  }
  for (let i = L - 1; i >= 0; i--) conv(`dec.up${i}`, 3, c[i + 1] as number, c[i] as number, relu);
  conv("dec.out", 3, c[0] as number, 3, 1);
  return specs;
}

let instance = 0;

/** Fresh variables with seeded He-style init. `prefix` keeps names unique in tfjs's global registry. */
export function initParams(config: VQConfig, seed: number): { params: Params; prefix: string } {
  const prefix = `vq${instance++}/`;
  const rng = new Random(seed);
  const params: Params = {};
  for (const [name, spec] of Object.entries(paramSpecs(config))) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (spec.gain > 0) {
      const fanIn = spec.shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const std = spec.gain / Math.sqrt(fanIn);
      for (let i = 0; i < size; i++) values[i] = rng.normal() * std;
    }
    params[name] = tf.variable(tf.tensor(values, spec.shape), true, prefix + name);
  }
  return { params, prefix };
}

function p(params: Params, name: string): tf.Variable {
  const v = params[name];
  if (!v) throw new Error(`missing parameter ${name}`);
  return v;
}

function conv(
  params: Params,
  name: string,
  x: tf.Tensor4D,
  opts: { stride?: number; relu?: boolean; constantInput?: boolean } = {},
): tf.Tensor4D {
  const filter = p(params, `${name}.w`) as tf.Tensor4D;
  const bias = p(params, `${name}.b`) as tf.Tensor1D;
  // fused also under a gradient tape (fused-conv.ts); linear convs are fused by tfjs itself
  if (opts.relu)
    return reluConv(x, filter, bias, { stride: opts.stride ?? 1, constantInput: opts.constantInput });
  return tf.fused.conv2d({
    x,
    filter,
    bias,
    strides: opts.stride ?? 1,
    pad: "same",
  }) as tf.Tensor4D;
}

function resBlock(params: Params, name: string, x: tf.Tensor4D): tf.Tensor4D {
  const h = conv(params, `${name}.a`, x, { relu: true });
  return tf.relu(tf.add(x, conv(params, `${name}.b`, h))) as tf.Tensor4D;
}

/** images [n,H,W,3] in [0,1] → pre-quantisation features [n,g,g,codeDim]. */
export function encoderForward(params: Params, config: VQConfig, images: tf.Tensor4D): tf.Tensor4D {
  // the images are data: no gradient for them
  let h = conv(params, "enc.in", tf.sub(tf.mul(images, 2), 1) as tf.Tensor4D, {
    relu: true,
    constantInput: true,
  });
  const L = config.channels.length - 1;
  for (let i = 0; i < L; i++) h = conv(params, `enc.down${i}`, h, { stride: 2, relu: true });
  for (let j = 0; j < config.resBlocks; j++) h = resBlock(params, `enc.res${j}`, h);
  return conv(params, "enc.out", h);
}

/** quantised codes [n,g,g,codeDim] → images [n,H,W,3] in [-1,1] (unclipped). */
export function decoderForward(params: Params, config: VQConfig, z: tf.Tensor4D): tf.Tensor4D {
  let h = conv(params, "dec.in", z, { relu: true });
  for (let j = 0; j < config.resBlocks; j++) h = resBlock(params, `dec.res${j}`, h);
  const L = config.channels.length - 1;
  for (let i = L - 1; i >= 0; i--) {
    const [, hh, ww] = h.shape;
    h = tf.image.resizeNearestNeighbor(h, [hh * 2, ww * 2]);
    h = conv(params, `dec.up${i}`, h, { relu: true });
  }
  return conv(params, "dec.out", h);
}

/** One convolution of the model, for cost and memory estimates: output resolution, kernel, channels. */
export interface ConvShape {
  res: number;
  k: number;
  cin: number;
  cout: number;
  /** Its input is a nearest-neighbour 2× upsample (the decoder), made at the output resolution. */
  upsampled?: boolean;
}

/** The model's convolutions in forward order (encoder, codes, decoder), plus the nearest-code search as a 1×1. */
export function convShapes(config: VQConfig): ConvShape[] {
  const c = config.channels;
  const L = c.length - 1;
  const S = config.imageSize;
  const g = S >> L;
  const top = c[L] as number;
  const layers: ConvShape[] = [{ res: S, k: 3, cin: 3, cout: c[0] as number }];
  for (let i = 0; i < L; i++)
    layers.push({ res: S >> (i + 1), k: 3, cin: c[i] as number, cout: c[i + 1] as number });
  for (let j = 0; j < config.resBlocks * 4; j++) layers.push({ res: g, k: 3, cin: top, cout: top });
  layers.push({ res: g, k: 1, cin: top, cout: config.codeDim });
  layers.push({ res: g, k: 3, cin: config.codeDim, cout: top });
  for (let i = L - 1; i >= 0; i--)
    layers.push({ res: S >> i, k: 3, cin: c[i + 1] as number, cout: c[i] as number, upsampled: true });
  layers.push({ res: S, k: 3, cin: c[0] as number, cout: 3 });
  layers.push({ res: g, k: 1, cin: config.codeDim, cout: config.codebookSize }); // nearest-code search
  return layers;
}

/** Multiply-accumulate FLOPs (×2) of one forward pass for one image, for throughput reports. */
export function forwardFlops(config: VQConfig): number {
  return convShapes(config).reduce((sum, l) => sum + 2 * l.res * l.res * l.k * l.k * l.cin * l.cout, 0);
}

/** float32 bytes of one image's forward activations: the input, each conv's output, each upsample's. */
export function activationBytes(config: VQConfig): number {
  const S = config.imageSize;
  const values = convShapes(config).reduce(
    (sum, l) => sum + l.res * l.res * (l.cout + (l.upsampled ? l.cin : 0)),
    S * S * 3,
  );
  return 4 * values;
}
