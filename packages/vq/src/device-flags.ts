// The device flags of the tfjs bins, declared once: vq's train-visual-vq and encode-vq-codes and
// trainer-2b's train-multimodal take the same --backend and --threads, the two training bins the same
// --devices, with one default each.
import { CliError, intOption } from "@laion/cli-kit";
import { Option } from "commander";
import { BACKEND_ORDER, type BackendName } from "./backend.js";

/** --backend of the vq bins: any name, checked by backendFlag (a YAML --config may set it too). */
export const BACKEND_FLAG = [
  "--backend <name>",
  `force a backend: ${BACKEND_ORDER.join(", ")} (default: the first that loads)`,
] as const;

/** The --backend value as a backend name; an unknown one is an error naming the flag and the choices. */
export function backendFlag(value: string | undefined): BackendName | undefined {
  if (value !== undefined && !BACKEND_ORDER.includes(value as BackendName))
    throw new CliError(`--backend must be one of ${BACKEND_ORDER.join(", ")}, got "${value}"`);
  return value as BackendName | undefined;
}

/**
 * --threads of the training bins. `shares` names what the threads split ("each batch", "each
 * micro-batch") and `configKey` the YAML key that sets it too, when it has another name. Unset, the
 * run takes trainingThreads' default.
 */
export function threadsOption(shares: string, configKey?: string): Option {
  const key = configKey ? `${configKey}; ` : "";
  return new Option(
    "--threads <n>",
    `wasm: threads sharing ${shares}, one core each (${key}default: all cores; results are reproducible for a given n)`,
  ).argParser(intOption("--threads", { min: 1, max: 256 }));
}

/**
 * --devices of the training bins: processes sharing each step, one per device (`configKey`: the YAML
 * key that sets it too). Unset: the GPUs nvidia-smi lists on a GPU backend, else 1 (dataParallel).
 */
export function devicesOption(configKey?: string): Option {
  const key = configKey ? `${configKey}; ` : "";
  return new Option(
    "--devices <n>",
    `processes sharing each step, one per GPU (CUDA_VISIBLE_DEVICES=i each; ${key}default: the GPUs nvidia-smi lists on a GPU backend, else 1; on wasm, n processes in place of --threads)`,
  ).argParser(intOption("--devices", { min: 1, max: 64 }));
}
