// conv2d + bias + relu as one FusedConv2D kernel, also while a gradient is being recorded. tfjs's
// `tf.fused.conv2d` falls back to three ops (conv2d, add, relu) under a gradient tape for any
// activation but `linear`, so every relu conv of a training step wrote its output three times and
// recorded three ops (with their saved copies) for the backward pass. Its own gradient for the fused
// case is the one below (dy ⊙ step(y) into the two conv gradients and the bias sum); relu(x) > 0
// exactly where x > 0, so the mask from the output y is the mask from the pre-activation.
import * as tf from "./tfjs.js";

export interface ReluConvParams {
  stride: number;
  /**
   * The input is data (the images), not an activation: no gradient is computed for it. customGrad
   * computes every input's gradient eagerly, and the first conv's would be a full-resolution
   * Conv2DBackpropInput nobody reads.
   */
  constantInput?: boolean;
}

/** relu(conv2d(x, filter, "same") + bias) in one kernel, with its gradient. */
export function reluConv(
  x: tf.Tensor4D,
  filter: tf.Tensor4D,
  bias: tf.Tensor1D,
  params: ReluConvParams,
): tf.Tensor4D {
  const strides: [number, number] = [params.stride, params.stride];
  const attrs = { strides, pad: "same" as const, dataFormat: "NHWC" as const };
  const forward = (input: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D) =>
    tf
      .engine()
      .runKernel(
        "FusedConv2D",
        { x: input, filter: w, bias: b },
        { ...attrs, dilations: [1, 1], activation: "relu" },
      ) as tf.Tensor4D;
  // the gradients of (filter, bias) and, when wanted, of x, from the masked output gradient
  const grads = (dy: tf.Tensor, input: tf.Tensor4D, w: tf.Tensor4D, y: tf.Tensor) => {
    const d = tf.mul(dy, tf.step(y)) as tf.Tensor4D;
    const dw = tf
      .engine()
      .runKernel(
        "Conv2DBackpropFilter",
        { x: input, dy: d },
        { ...attrs, filterShape: w.shape },
      ) as tf.Tensor4D;
    const db = tf.sum(d, [0, 1, 2]);
    if (params.constantInput) return [dw, db];
    const dx = tf
      .engine()
      .runKernel(
        "Conv2DBackpropInput",
        { dy: d, filter: w },
        { ...attrs, inputShape: input.shape },
      ) as tf.Tensor4D;
    return [dx, dw, db];
  };
  type Save = (tensors: tf.Tensor[]) => void;
  // customGrad passes the differentiable inputs, then `save`; a constant x is not one of them
  const op = tf.customGrad(((...args: (tf.Tensor | Save)[]) => {
    const save = args.pop() as Save;
    const [input, w, b] = (params.constantInput ? [x, ...args] : args) as [
      tf.Tensor4D,
      tf.Tensor4D,
      tf.Tensor1D,
    ];
    const y = forward(input, w, b);
    // x too when constant: the forward pass's tidy disposes what is not saved
    save([input, w, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [si, sw, sy]: tf.Tensor[]) =>
        grads(dy, si as tf.Tensor4D, sw as tf.Tensor4D, sy as tf.Tensor),
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (params.constantInput ? op(filter, bias) : op(x, filter, bias)) as tf.Tensor4D;
}
