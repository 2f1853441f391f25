// The two things the trainer takes from @laion/vq: the backend chain and the VQ checkpoint loader.
import { type DeviceInfo, loadVQ, selectBackend, type Tf } from "@laion/vq";
import type { TrainConfig } from "./config.js";
import type { ImageCoder } from "./data.js";

/** tfjs-node-gpu → webgpu (hardware adapter) → tfjs-node → wasm → cpu, or exactly the configured one. */
export async function pickBackend(
  name: TrainConfig["training"]["backend"],
  log: (m: string) => void,
): Promise<{ name: string; tf: Tf; device: DeviceInfo }> {
  return selectBackend({ ...(name === "auto" ? {} : { prefer: name }), log });
}

export async function loadImageCoder(file: string): Promise<ImageCoder & { dispose(): void }> {
  return loadVQ(file);
}
