// Code shards: webdataset tars whose samples hold `{key}.json` (the image shard's metadata + the VQ's identity),
// `{key}.txt` (caption) and `{key}.vq.npy` (the [g, g] code grid) — no image. Written by encodeVqCodes, read by
// the trainer (`--laion-path`), which tells them from image shards by the `vq.npy` member.
import {
  type KeyedSample,
  type RawSample,
  type ShardStorage,
  TarWriter,
  writeShardStats,
} from "@laion/shards";
import { codeDtype, decodeNpy, encodeNpy } from "./npy.js";
import { describeIdentity, type VqIdentity } from "./vq-identity.js";

/** The member extension of the codes; its presence makes a sample (and a shard) a code sample. */
export const CODES_EXT = "vq.npy";

export interface CodeSample {
  key: string;
  caption: string | undefined;
  /** The image shard's json for this sample (url, width, …), kept as it was. */
  meta: Record<string, unknown>;
  /** [grid·grid] codes, row-major. */
  codes: Int32Array;
}

export interface CodeShardStats {
  /** The image shard this one was encoded from. */
  input: string;
  /** Samples read from the input shard. */
  count: number;
  /** Samples written with codes. */
  successes: number;
  /** Samples whose image could not be decoded (each reason counted in status_dict). */
  failed_to_decode: number;
  /** Samples without an image member (caption-only rows of img2dataset's failed downloads). */
  no_image: number;
  status_dict: Record<string, number>;
  vq: VqIdentity;
  /** Seconds. */
  duration: number;
}

export interface CodeShardWriter {
  write(sample: CodeSample): Promise<void>;
  /** Finishes the tar, makes it appear under its name, then writes `{name}_stats.json` (the completion mark). */
  close(stats: CodeShardStats): Promise<void>;
  abort(): Promise<void>;
}

/** Streams one code shard `{name}.tar` into `storage` through @laion/shards' TarWriter (temp object until close). */
export async function createCodeShardWriter(params: {
  storage: ShardStorage;
  name: string;
  vq: VqIdentity;
}): Promise<CodeShardWriter> {
  const { storage, name, vq } = params;
  const tar = await TarWriter.open({ storage, name: `${name}.tar` });
  const dtype = codeDtype(vq.codebook_size);
  let closed = false;
  return {
    async write(s) {
      if (s.codes.length !== vq.grid_size * vq.grid_size)
        throw new Error(`${name}.tar: ${s.key} has ${s.codes.length} codes, expected ${vq.grid_size}²`);
      await tar.write({
        __key__: s.key,
        json: { ...s.meta, key: s.key, vq },
        ...(s.caption !== undefined ? { txt: s.caption } : {}),
        [CODES_EXT]: encodeNpy({ dtype, shape: [vq.grid_size, vq.grid_size], data: s.codes }),
      });
    },
    async close(stats) {
      if (closed) return;
      closed = true;
      await tar.close();
      await writeShardStats(storage, name, stats); // last: marks it complete
    },
    async abort() {
      if (closed) return;
      closed = true;
      await tar.abort();
    },
  };
}

/** A sample of a code shard as the reader yields it without decoding: the codes are there, every member is bytes. */
export type CodeShardSample = RawSample<typeof CODES_EXT>;

/** True when a raw webdataset sample holds codes (the trainer's test between code and image shards). */
export function isCodeSample(sample: KeyedSample): sample is CodeShardSample {
  return sample[CODES_EXT] instanceof Uint8Array;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The codes and caption of a raw code sample, after checking it was encoded by the VQ `expected` (its id);
 * errors name the shard, the key and both VQs.
 */
export function readCodeSample(
  sample: CodeShardSample,
  expected: Pick<VqIdentity, "id" | "checkpoint"> & { grid_size: number },
): { codes: Int32Array; caption: string } {
  const where = `${sample.__url__ ?? "code shard"}: ${sample.__key__}`;
  let vq: Partial<VqIdentity> | undefined;
  try {
    const meta: unknown = sample.json ? JSON.parse(utf8.decode(sample.json)) : undefined;
    vq = (meta as { vq?: Partial<VqIdentity> } | undefined)?.vq;
  } catch (err) {
    throw new Error(`${where}.json: not valid JSON (${(err as Error).message})`);
  }
  if (!vq?.id) throw new Error(`${where}.json has no "vq" identity: was it written by encode-vq-codes?`);
  if (vq.id !== expected.id) {
    throw new Error(
      `${where} was encoded by VQ ${describeIdentity({ id: vq.id, checkpoint: vq.checkpoint ?? "?" })} but --vq-checkpoint is ${describeIdentity(expected)}: re-encode the shards with encode-vq-codes --vq-checkpoint ${expected.checkpoint}, or pass the checkpoint that made them`,
    );
  }
  const { data, shape } = decodeNpy(sample[CODES_EXT], `${where}.${CODES_EXT}`);
  if (data.length !== expected.grid_size * expected.grid_size)
    throw new Error(
      `${where}.${CODES_EXT}: shape (${shape.join(", ")}), expected (${expected.grid_size}, ${expected.grid_size})`,
    );
  const caption = sample.txt ? utf8.decode(sample.txt) : "";
  return { codes: data, caption };
}
