import { createHash } from "node:crypto";
import type { VQConfig } from "./config.js";
import type { SafeTensor } from "./safetensors.js";

/**
 * Who encoded a code shard: stored in every sample's json (`vq`) so a trainer can refuse codes from another
 * tokenizer. `id` hashes what decides the codes (config + every tensor), not the file, so re-saving the same
 * weights with other metadata (step, lr) keeps the identity and any change of a weight changes it.
 */
export interface VqIdentity {
  /** `sha256:` + 16 hex digits of the config and the tensors. */
  id: string;
  /** The checkpoint's file name (informative; the id is what is compared). */
  checkpoint: string;
  image_size: number;
  grid_size: number;
  codebook_size: number;
}

/** Canonical JSON (sorted keys), so the same config always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object")
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(value);
}

export function vqIdentityId(config: VQConfig, tensors: Record<string, SafeTensor>): string {
  const hash = createHash("sha256").update(canonical(config));
  for (const name of Object.keys(tensors).sort()) {
    const t = tensors[name] as SafeTensor;
    hash.update(`\u0000${name}:${t.dtype}:${t.shape.join("x")}\u0000`);
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return `sha256:${hash.digest("hex").slice(0, 16)}`;
}

/** Says which VQ made a code shard and which one is loaded, for the error when they differ. */
export function describeIdentity(v: Pick<VqIdentity, "id" | "checkpoint">): string {
  return `${v.checkpoint} (${v.id})`;
}
