/**
 * Sample keys exactly as img2dataset's `compute_key`: the shard id times 10^digits(shard size) plus the
 * index of the sample in its shard, zero-padded to (digits(shard size) + shard digits). A key depends only
 * on the sample's input row, so a resumed run writes the same keys as an uninterrupted one.
 */
export interface ComputeKeyParams {
  /** Index of the sample inside its shard (0-based). */
  indexInShard: number;
  shardId: number;
  /** Samples per shard (img2dataset's `number_sample_per_shard`). */
  shardSize: number;
  /** Minimum digits of the shard id (img2dataset's `oom_shard_count`, 5 by default). */
  shardDigits?: number;
}

/** Digits used for the index inside a shard: img2dataset's `oom_sample_per_shard = ceil(log10(shard_size))`. */
export function sampleDigits(shardSize: number): number {
  return Math.ceil(Math.log10(shardSize));
}

export function computeKey(params: ComputeKeyParams): string {
  const { indexInShard, shardId, shardSize, shardDigits = SHARD_DIGITS } = params;
  const digits = sampleDigits(shardSize);
  // BigInt: shard ids × 10^digits can pass 2^53 for huge runs; keys must stay exact
  const trueKey = BigInt(shardId) * 10n ** BigInt(digits) + BigInt(indexInShard);
  return trueKey.toString().padStart(digits + shardDigits, "0");
}

/** img2dataset's default `oom_shard_count`: shard names are at least 5 digits (00000.tar). */
export const SHARD_DIGITS = 5;

/** `00042` for shard 42. */
export function shardName(shardId: number, shardDigits = SHARD_DIGITS): string {
  return String(shardId).padStart(shardDigits, "0");
}
