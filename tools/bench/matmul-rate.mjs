// The baseline the training benchmarks divide by: tf.matMul throughput on the current backend,
// measured in the same process as the training it is compared with.

/**
 * GFLOP/s of [m,k]×[k,n] products (one warm-up, then `reps` timed). Not tf.tidy(() => x.dataSync()):
 * tidy walks a returned typed array element by element, which made a first version ~50× too slow.
 */
export function matmulRate(tf, m, k, n, reps = 8) {
  const a = tf.randomNormal([m, k]);
  const b = tf.randomNormal([k, n]);
  const run = () => {
    const o = tf.matMul(a, b);
    o.dataSync();
    o.dispose();
  };
  run();
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) run();
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([a, b]);
  return (2 * m * k * n * reps) / seconds / 1e9;
}

/** The products of a transformer training step on `rows` = batch·seq activations, plus 512³, by label. */
export function transformerMatmuls({ dModel: C, dFF, vocabSize }, rows) {
  return {
    [`${rows}x${C}x${C} (q/k/v/o)`]: [rows, C, C],
    [`${rows}x${C}x${dFF} (mlp up)`]: [rows, C, dFF],
    [`${rows}x${dFF}x${C} (mlp down)`]: [rows, dFF, C],
    [`${rows}x${C}x${vocabSize} (logits)`]: [rows, C, vocabSize],
    "512x512x512": [512, 512, 512],
  };
}
