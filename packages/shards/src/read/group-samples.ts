import { ShardError } from "./errors.js";
import { emptySample, type RawSample } from "./sample-types.js";
import type { TarMember } from "./tar-members.js";

// webdataset's base_plus_ext: everything up to the first dot of the basename is the key,
// everything after it (possibly several dots) the extension.
const BASE_PLUS_EXT = /^((?:.*\/|)[^.]+)[.]([^/]*)$/s;
// webdataset skips metadata members such as `__meta__` / `__index__/…`.
const META = /^__[^/]*__($|\/)/;

/** Splits a member path into key and extension as webdataset does; null when it has no extension. */
export function splitKey(name: string): { key: string; ext: string } | null {
  const m = BASE_PLUS_EXT.exec(name);
  if (!m) return null;
  return { key: m[1] as string, ext: m[2] as string };
}

/**
 * Groups consecutive members with the same key into samples (webdataset's group_by_keys):
 * extensions are lower-cased; members without an extension and `__meta__` members are skipped;
 * a repeated extension within one sample is an error naming the member.
 */
export async function* groupSamples(
  members: AsyncIterable<TarMember>,
  url: string,
): AsyncGenerator<RawSample> {
  let current: RawSample | undefined;
  try {
    for await (const member of members) {
      if (META.test(member.name)) continue;
      const parts = splitKey(member.name);
      if (!parts) continue;
      const ext = parts.ext.toLowerCase();
      if (current === undefined || current.__key__ !== parts.key) {
        if (current !== undefined) yield current;
        current = emptySample(parts.key, url);
      }
      if (ext in current || ext === "__key__" || ext === "__url__") {
        throw new ShardError({
          url,
          member: member.name,
          message: `duplicate extension "${ext}" for key "${parts.key}" (members of one sample must have distinct extensions)`,
        });
      }
      current[ext] = member.data;
    }
  } catch (error) {
    // A failure inside a member of the *next* key means the sample being assembled was complete:
    // hand it out before the error. Otherwise (unknown position) it may lack members, so drop it.
    const failed = error instanceof ShardError && error.member !== undefined ? splitKey(error.member) : null;
    if (current !== undefined && failed && failed.key !== current.__key__) yield current;
    throw error;
  }
  if (current !== undefined) yield current;
}
