import * as tf from "@tensorflow/tfjs";
import { registerWasmKernels } from "./wasm-kernels.js";

export type BackendName = "tfjs-node-gpu" | "tfjs-node" | "wasm" | "cpu";
export type Tf = typeof tf;

/** Preference order when nothing is named: native GPU, native CPU, wasm (SIMD), plain JS. */
export const BACKEND_ORDER: readonly BackendName[] = ["tfjs-node-gpu", "tfjs-node", "wasm", "cpu"];

export interface SelectBackendParams {
  /** Use exactly this backend (an error if it cannot load) instead of the first that loads. */
  prefer?: BackendName;
  log?: (msg: string) => void;
}

// Dynamic imports through a variable so bundlers and tsc do not require the optional
// native packages (they need libtensorflow, which their install script downloads).
const importOptional = (specifier: string): Promise<unknown> => import(/* @vite-ignore */ specifier);

async function activate(name: BackendName): Promise<void> {
  if (name === "tfjs-node-gpu" || name === "tfjs-node") {
    await importOptional(`@tensorflow/${name}`);
    // Both native packages register the backend under the name "tensorflow".
    if (!(await tf.setBackend("tensorflow")))
      throw new Error(`@tensorflow/${name} loaded but its backend did not initialise`);
    return;
  }
  if (name === "wasm") {
    await import("@tensorflow/tfjs-backend-wasm");
    if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend did not initialise");
    registerWasmKernels(tf);
    return;
  }
  if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend did not initialise");
}

let chosen: BackendName | undefined;
/** The backend chosen by the last selectBackend call in this process, if any. */
export function currentBackend(): BackendName | undefined {
  return chosen;
}

/**
 * Pick the fastest TensorFlow.js backend that loads here and make it current.
 * Returns its name and `tf`, the `@tensorflow/tfjs` module instance every tensor must come from.
 */
export async function selectBackend(
  params: SelectBackendParams = {},
): Promise<{ name: BackendName; tf: Tf }> {
  const log = params.log ?? (() => {});
  // The "install tfjs-node" banner is noise for a library; PROD also skips NaN checks per op.
  tf.env().set("PROD", true);
  if (params.prefer !== undefined) {
    if (!BACKEND_ORDER.includes(params.prefer)) {
      throw new Error(`unknown backend "${params.prefer}"; expected one of ${BACKEND_ORDER.join(", ")}`);
    }
    try {
      await activate(params.prefer);
    } catch (err) {
      throw new Error(`backend "${params.prefer}" is not available: ${(err as Error).message}`);
    }
    chosen = params.prefer;
    return { name: params.prefer, tf };
  }
  for (const name of BACKEND_ORDER) {
    try {
      await activate(name);
      chosen = name;
      return { name, tf };
    } catch (err) {
      log(`backend ${name} unavailable (${(err as Error).message.split("\n")[0]})`);
    }
  }
  throw new Error("no TensorFlow.js backend could be initialised");
}
