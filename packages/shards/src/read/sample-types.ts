// The types of what a reader yields, computed from the options the caller passed: raw members are
// bytes, a decoder that is on gives its value type, and members the caller requires are not optional.
// The extension tables are shared with the runtime decoder (decode.ts), so types and behaviour agree.

/** A decoded image: 3 bytes per pixel, row-major. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A JSON value, as `JSON.parse` returns it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Checks a parsed `.json` member and returns it typed (throw to reject it; the reader's handler decides). */
export type JsonDecoder<T = unknown> = (value: JsonValue) => T;

/** Opt-in decoders. `true` turns all of them on. */
export interface DecodeOptions {
  /** Image members (jpg, jpeg, png, webp, gif, tif, tiff, avif) → `{ width, height, data }`, 8-bit RGB, row-major. */
  image?: "rgb" | false;
  /** `txt`, `text`, `transcript` → string (UTF-8). */
  txt?: boolean;
  /** `json`, `jsn` → parsed value (`JsonValue`), or what the given function returns for it (e.g. `asSampleMeta`). */
  json?: boolean | JsonDecoder;
  /** `cls`, `cls2`, `class`, `count`, `index`, `inx`, `id` → number. */
  cls?: boolean;
}

// The member extensions each decoder applies to (by the last dot-separated part: `seg.json` is json).
export const IMAGE_EXTENSIONS = ["jpg", "jpeg", "png", "webp", "gif", "tif", "tiff", "avif"] as const;
export const TEXT_EXTENSIONS = ["txt", "text", "transcript"] as const;
export const JSON_EXTENSIONS = ["json", "jsn"] as const;
export const CLS_EXTENSIONS = ["cls", "cls2", "class", "count", "index", "inx", "id"] as const;

type ImageExt = (typeof IMAGE_EXTENSIONS)[number];
type TextExt = (typeof TEXT_EXTENSIONS)[number];
type JsonExt = (typeof JSON_EXTENSIONS)[number];
type ClsExt = (typeof CLS_EXTENSIONS)[number];
/** Extensions with a decoder: typed as optional members of every sample, so `s.txt` needs no index lookup. */
export type KnownExtension = ImageExt | TextExt | JsonExt | ClsExt;

/** The decoder options that `decode: D` stands for. */
type OptionsOf<D> = D extends true
  ? { image: "rgb"; txt: true; json: true; cls: true }
  : D extends DecodeOptions
    ? D
    : Record<never, never>;

/** The setting of decoder `K` (distributed over a union of options: each may set it or not). */
type Flag<O, K extends keyof DecodeOptions> = O extends unknown
  ? K extends keyof O
    ? O[K]
    : undefined
  : never;

/** A switch known to be on gives `V`, one known to be off raw bytes, one that may be either both. */
type Switch<F, V> = [F] extends [false | undefined]
  ? Uint8Array
  : [F] extends [true | "rgb"]
    ? V
    : V | Uint8Array;

type JsonOf<F> = [F] extends [false | undefined]
  ? Uint8Array
  : [F] extends [true]
    ? JsonValue
    : [F] extends [JsonDecoder<infer T>]
      ? T
      : JsonValue | Uint8Array | (F extends JsonDecoder<infer T> ? T : never);

type LastPart<E extends string> = E extends `${string}.${infer Rest}` ? LastPart<Rest> : E;

type ValueOf<O, K extends string> = K extends ImageExt
  ? Switch<Flag<O, "image">, RgbImage>
  : K extends TextExt
    ? Switch<Flag<O, "txt">, string>
    : K extends JsonExt
      ? JsonOf<Flag<O, "json">>
      : K extends ClsExt
        ? Switch<Flag<O, "cls">, number>
        : Uint8Array;

/** What member `E` holds when read with `decode: D` (`undefined`/`false`: raw bytes). */
export type MemberValue<D, E extends string> = ValueOf<OptionsOf<D>, LastPart<Lowercase<E>>>;

/**
 * The key and origin every sample carries. (A type, not an interface: samples built on it are
 * assignable to `KeyedSample`'s index signature.)
 */
export type SampleKeys = {
  /** Member path up to the first dot of its basename (directories kept), e.g. `part1/000042`. */
  __key__: string;
  /** The shard (or file) the sample came from. */
  __url__: string;
};

/**
 * A webdataset sample read with `decode: D` where every sample has the members `R`:
 * `Sample<undefined, "jpg">` has `jpg: Uint8Array`; `Sample<{ txt: true }>` has `txt?: string`
 * and every other member `Uint8Array`. Members not named are reached by index (`s["seg.png"]`),
 * which gives `undefined` too unless the member is in `R`.
 */
export type Sample<D = undefined, R extends string = never> = SampleKeys & {
  [E in R]: MemberValue<D, E>;
} & { [E in KnownExtension]?: MemberValue<D, E> } & {
  [ext: string]: MemberValue<D, KnownExtension | "bin">;
};

/** A sample as read without decoding: every member is bytes. */
export type RawSample<R extends string = never> = Sample<undefined, R>;

/** An empty sample of `key` from `url`, to add members to. */
export function emptySample(key: string, url: string): RawSample {
  // The index signature (members are bytes) does not admit the two string fields of a literal, though
  // the intersection type reads them as strings: the cast is the one place a sample is created.
  return { __key__: key, __url__: url } as unknown as RawSample;
}
