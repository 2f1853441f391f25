// The two things the trainer takes from @laion/vq: the backend chain and the VQ checkpoint
// loader. Imported lazily so that the model, the tokenizer and their tests load without it.
import type { TrainConfig } from "./config.js";
import type { ImageCoder } from "./data.js";
import type { Tf } from "./model.js";

interface VqApi {
  selectBackend(params: { prefer?: string; log?: (m: string) => void }): Promise<{ name: string; tf: Tf }>;
  loadVQ(path: string): Promise<ImageCoder & { dispose(): void }>;
}

const vqApi = async () => (await import("@laion/vq")) as unknown as VqApi;

/** tfjs-node-gpu → webgpu (hardware adapter) → tfjs-node → wasm → cpu, or exactly the configured one. */
export async function pickBackend(
  name: TrainConfig["training"]["backend"],
  log: (m: string) => void,
): Promise<{ name: string; tf: Tf }> {
  const { selectBackend } = await vqApi();
  return selectBackend({ ...(name === "auto" ? {} : { prefer: name }), log });
}

export async function loadImageCoder(file: string): Promise<ImageCoder & { dispose(): void }> {
  const { loadVQ } = await vqApi();
  return loadVQ(file);
}
