import * as tf from "@tensorflow/tfjs";
import type { Tf } from "../src/model.js";

/** The cpu backend: deterministic float32, has every kernel (incl. the gather gradient). */
export async function cpuTf(): Promise<Tf> {
  await tf.setBackend("cpu");
  await tf.ready();
  return tf;
}
