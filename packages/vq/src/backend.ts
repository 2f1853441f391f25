import os from "node:os";
import { assertNodeGpu, nodeGpuFacts } from "./node-gpu.js";
import * as tf from "./tfjs.js";
import { registerWasmKernels } from "./wasm-kernels.js";
import { activateWebGpu, describeAdapter, maxTensorBytes, type WebGpuDevice } from "./webgpu.js";

export type BackendName = "tfjs-node-gpu" | "webgpu" | "tfjs-node" | "wasm" | "cpu";
export type Tf = typeof tf;

/**
 * Preference order when nothing is named: native GPU (only if TensorFlow really placed ops on one),
 * webgpu on a hardware adapter, native CPU, wasm (SIMD), plain JS.
 */
export const BACKEND_ORDER: readonly BackendName[] = ["tfjs-node-gpu", "webgpu", "tfjs-node", "wasm", "cpu"];

/** What the chosen backend runs on, for logs, the dry run and the memory preflight. */
export interface DeviceInfo {
  backend: BackendName;
  /** Adapter or processor name. */
  name: string;
  /** True on a software GPU adapter (llvmpipe): correct but slow. */
  software?: boolean;
  /** The largest tensor one buffer may hold (webgpu: min of the storage-binding and buffer limits), bytes. */
  maxTensorBytes?: number;
  /** Buffer limits granted to a webgpu device. */
  limits?: Record<string, number>;
  /** Why this backend was chosen (named, or which ones were tried before it). */
  reason: string;
}

export interface SelectBackendParams {
  /** Use exactly this backend (an error if it cannot load) instead of the first that loads. */
  prefer?: BackendName;
  /** Receives one line naming the chosen backend and device (see describeDevice). */
  log?: (msg: string) => void;
}

/** An error the chain must not step over: a backend loaded but would silently be something else. */
class BackendRefused extends Error {}

// Dynamic imports through a variable so bundlers and tsc do not require the optional
// native packages (they need libtensorflow, which their install script downloads).
const importOptional = (specifier: string): Promise<unknown> => import(/* @vite-ignore */ specifier);

let webgpu: WebGpuDevice | undefined;

/** Make `name` the tfjs backend; returns what it runs on (minus `reason`). */
async function activate(name: BackendName, named: boolean): Promise<Omit<DeviceInfo, "reason">> {
  if (name === "tfjs-node-gpu" || name === "tfjs-node") {
    await importOptional(`@tensorflow/${name}`);
    // Both native packages register the backend under the name "tensorflow".
    if (!(await tf.setBackend("tensorflow")))
      throw new Error(`@tensorflow/${name} loaded but its backend did not initialise`);
    if (name === "tfjs-node-gpu") {
      try {
        assertNodeGpu(nodeGpuFacts(tf.backend()));
      } catch (err) {
        throw new BackendRefused((err as Error).message);
      }
      return { backend: name, name: "CUDA GPU (TensorFlow reports a GPU device)" };
    }
    return { backend: name, name: cpuName("libtensorflow") };
  }
  if (name === "webgpu") {
    // one Dawn instance and device per process; later selections only switch back to it
    if (webgpu && tf.findBackend("webgpu")) {
      if (webgpu.software && !named) throw new Error("the WebGPU adapter is software (used only when named)");
      await tf.setBackend("webgpu");
    } else webgpu = await activateWebGpu(tf, { allowSoftware: named });
    return {
      backend: name,
      name: describeAdapter(webgpu.info),
      software: webgpu.software,
      maxTensorBytes: maxTensorBytes(webgpu.limits),
      limits: { ...webgpu.limits },
    };
  }
  if (name === "wasm") {
    await import("@tensorflow/tfjs-backend-wasm");
    if (!(await tf.setBackend("wasm"))) throw new Error("the wasm backend did not initialise");
    registerWasmKernels(tf);
    // wasm32: one buffer cannot exceed the 4 GiB address space
    return { backend: name, name: cpuName("WebAssembly SIMD, 1 thread"), maxTensorBytes: 2 ** 32 };
  }
  if (!(await tf.setBackend("cpu"))) throw new Error("the cpu backend did not initialise");
  return { backend: name, name: cpuName("plain JavaScript") };
}

/** An optional package that is absent is "not installed", not a stack of resolver paths. */
const shortReason = (err: Error & { code?: string }) =>
  err.code === "ERR_MODULE_NOT_FOUND" || /^(Cannot find (package|module)|Could not resolve)/.test(err.message)
    ? "not installed"
    : (err.message.split("\n")[0] ?? "");

const cpuName = (how: string) => `${os.cpus()[0]?.model?.trim() || "CPU"} (${how})`;

let chosen: DeviceInfo | undefined;
/** The backend chosen by the last selectBackend call in this process, if any. */
export function currentBackend(): BackendName | undefined {
  return chosen?.backend;
}
/** The device behind the last selectBackend call, if any. */
export function currentDevice(): DeviceInfo | undefined {
  return chosen;
}

/** How to get each optional backend, for the one log line that names the chosen one. */
export const INSTALL_HINTS: Partial<Record<BackendName, string>> = {
  "tfjs-node-gpu": "npm install @tensorflow/tfjs-node-gpu (needs CUDA 11.2 + cuDNN 8.1)",
  webgpu: "npm install webgpu @tensorflow/tfjs-backend-webgpu (needs a Vulkan GPU driver)",
  "tfjs-node": "npm install @tensorflow/tfjs-node",
};

/** "first that loads (tfjs-node-gpu: not installed; …); for more speed: npm install …" — why the chain stopped where it did. */
function chainReason(skipped: readonly { name: BackendName; why: string }[]): string {
  if (skipped.length === 0) return "first in the chain";
  const parts = skipped.map(({ name, why }) => `${name}: ${why}`);
  const hints = skipped
    .filter((s) => s.why === "not installed" && INSTALL_HINTS[s.name])
    .map((s) => INSTALL_HINTS[s.name]);
  return `first that loads (${parts.join("; ")})${hints.length ? `; for more speed: ${hints.join(" or ")}` : ""}`;
}

/** One line for logs and the dry run: "backend webgpu on NVIDIA T4 (nvidia, turing): max tensor 4.00 GB; --backend webgpu". */
export function describeDevice(d: DeviceInfo): string {
  const max = d.maxTensorBytes ? `; max tensor ${(d.maxTensorBytes / 1e9).toFixed(2)} GB` : "";
  return `backend ${d.backend} on ${d.name}${d.software ? " [software adapter: slow]" : ""}${max}; ${d.reason}`;
}

/**
 * Pick the fastest TensorFlow.js backend that loads here and make it current.
 * Returns its name, what it runs on, and `tf`, the module instance every tensor must come from.
 */
export async function selectBackend(
  params: SelectBackendParams = {},
): Promise<{ name: BackendName; tf: Tf; device: DeviceInfo }> {
  const log = params.log ?? (() => {});
  // The "install tfjs-node" banner is noise for a library; PROD also skips NaN checks per op.
  tf.env().set("PROD", true);
  if (params.prefer !== undefined) {
    if (!BACKEND_ORDER.includes(params.prefer)) {
      throw new Error(`unknown backend "${params.prefer}"; expected one of ${BACKEND_ORDER.join(", ")}`);
    }
    let device: Omit<DeviceInfo, "reason">;
    try {
      device = await activate(params.prefer, true);
    } catch (err) {
      throw new Error(`backend "${params.prefer}" is not available: ${(err as Error).message}`);
    }
    chosen = { ...device, reason: `--backend ${params.prefer}` };
    log(describeDevice(chosen));
    return { name: params.prefer, tf, device: chosen };
  }
  // The backends that did not load are summed up in the one line that names the chosen one,
  // with how to install the faster ones, rather than a line (and a resolver stack) each.
  const skipped: { name: BackendName; why: string }[] = [];
  for (const name of BACKEND_ORDER) {
    try {
      const device = await activate(name, false);
      chosen = { ...device, reason: chainReason(skipped) };
      log(describeDevice(chosen));
      return { name, tf, device: chosen };
    } catch (err) {
      if (err instanceof BackendRefused) throw err;
      skipped.push({ name, why: shortReason(err as Error & { code?: string }) });
    }
  }
  throw new Error("no TensorFlow.js backend could be initialised");
}
