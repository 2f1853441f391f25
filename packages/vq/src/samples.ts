import { heldOutSide } from "@laion/mixer";
import type { KeyedSample } from "@laion/shards";

/** A sample as the @laion/shards readers yield it (or a custom source gives it): a key and its members. */
export type ImageSample = KeyedSample;

/**
 * The training side of the held-out split of one source (the mixer's split, salted by the source's
 * name: "local", "laion", or "samples" for a custom source). With the same fraction the VQ holds out
 * the images trainer-2b holds out.
 */
export function trainingSide(
  reader: AsyncIterable<ImageSample>,
  source: string,
  fraction: number,
): AsyncIterable<ImageSample> {
  // a Resumable reader stays Resumable (heldOutSide passes state/restore through): resume still seeks
  return heldOutSide(reader, { keyOf: (s) => String(s.__key__), fraction, source, side: "train" });
}
