import type { DecodedArray, PageHeader } from "hyparquet";
import { decompressPage, readDataPage, readDataPageV2 } from "hyparquet/src/datapage.js";
import { readRleBitPackedHybrid } from "hyparquet/src/encoding.js";
import { readPlain } from "hyparquet/src/plain.js";
import { snappyUncompress } from "hyparquet/src/snappy.js";
import type { Scratch } from "./scratch.js";

// A data page's values in the least garbage hyparquet's own decoders allow. hyparquet's readDataPage makes
// a plain array for the definition levels and the dictionary indices (a 262k-row page: two 2 MB arrays,
// allocated straight into V8's old generation) and a Uint8Array view per PLAIN string (10k objects per
// URL page, kept as long as the page is read, so promoted): over 10M rows that was ~2 GB through the old
// generation, the peak RSS growth of a long fetch. Here levels and indices go into typed arrays and
// strings stay in the page's bytes, located by one Int32Array; the decoding itself is hyparquet's
// (readRleBitPackedHybrid, readPlain, decompressPage). Other encodings take hyparquet's whole-page path.

type ColumnDecoder = Parameters<typeof readDataPage>[2];

/** PLAIN BYTE_ARRAY values left in the page: value i is `bytes[offsets[i] + 4, offsets[i + 1])`. */
export class ByteArrays {
  constructor(
    readonly bytes: Uint8Array,
    /** Start of each value's 4-byte length prefix, and one past the last value. */
    readonly offsets: Int32Array,
  ) {}

  get length(): number {
    return this.offsets.length - 1;
  }

  /** Values [from, to) as strings, decoded as hyparquet's convert decodes them. */
  strings(from: number, to: number, decode: (bytes: Uint8Array) => string): string[] {
    const out = new Array<string>(to - from);
    const { bytes, offsets } = this;
    for (let i = from; i < to; i++) out[i - from] = decode(bytes.subarray(offsets[i]! + 4, offsets[i + 1]));
    return out;
  }
}

export interface PageValues {
  /** Non-null values: typed arrays for numbers, ByteArrays for PLAIN strings, or dictionary indices. */
  values: DecodedArray | ByteArrays;
  /** Definition level of each row; undefined when every row has a value. */
  defs: Uint8Array | undefined;
  /** Whether `values` are indices into the column chunk's dictionary. */
  dictionaryEncoded: boolean;
}

export interface DecodeOptions {
  decoder: ColumnDecoder;
  /** The column's maximum definition level (0: required, 1: optional flat column). */
  maxDef: number;
  /** Keep PLAIN BYTE_ARRAY values as ByteArrays (only when hyparquet would convert them to strings). */
  compactStrings: boolean;
  /**
   * The column's reused arrays: a page's bytes, levels, indices and string offsets live in them until
   * the next page is decoded, so a caller copies what it hands out.
   */
  scratch: Scratch;
}

/** Decompresses into the reused scratch buffer when the codec allows it (snappy: hyparquet's own decoder). */
function decompress(body: Uint8Array, size: number, opts: DecodeOptions): Uint8Array {
  const { codec, compressors } = opts.decoder;
  if (codec !== "SNAPPY") return decompressPage(body, size, codec, compressors);
  const out = opts.scratch.get("raw", Uint8Array, size);
  snappyUncompress(body, out);
  return out;
}

/**
 * Decodes one data page of a flat column (`body` is the page after its header). Returns hyparquet's
 * values for what it decodes itself, in compact form for PLAIN and dictionary-encoded pages.
 */
export function decodePageValues(body: Uint8Array, header: PageHeader, opts: DecodeOptions): PageValues {
  const { decoder } = opts;
  const v1 = header.type === "DATA_PAGE" ? header.data_page_header : undefined;
  const v2 = header.type === "DATA_PAGE_V2" ? header.data_page_header_v2 : undefined;
  const encoding = v1?.encoding ?? v2?.encoding;
  const fast = encoding === "PLAIN" || (encoding?.endsWith("_DICTIONARY") && decoder.type !== "BOOLEAN");
  if (v1 && fast) {
    const reader = readerOf(decompress(body, header.uncompressed_page_size, opts));
    // V1: the levels are inside the compressed body, each run prefixed by its byte length
    const defs = readLevels(reader, v1.num_values, undefined, opts);
    const valueCount = v1.num_values - nullCount(defs, opts.maxDef);
    return pageValues(reader, encoding!, valueCount, defs, opts);
  }
  if (v2 && fast) {
    const levels = readerOf(body);
    levels.offset = v2.repetition_levels_byte_length;
    const defs = readLevels(levels, v2.num_values, v2.definition_levels_byte_length, opts);
    const skip = v2.repetition_levels_byte_length + v2.definition_levels_byte_length;
    const size = header.uncompressed_page_size - skip;
    let raw = body.subarray(skip);
    // a page with no values may have zero compressed bytes, which is not a valid stream
    if (v2.is_compressed !== false && size) raw = decompress(raw, size, opts);
    return pageValues(readerOf(raw), encoding!, v2.num_values - v2.num_nulls, defs, opts);
  }
  return wholePage(body, header, opts);
}

/** Any other page: hyparquet's readDataPage(V2), its level array compacted. */
function wholePage(body: Uint8Array, header: PageHeader, opts: DecodeOptions): PageValues {
  const { decoder } = opts;
  let decoded: ReturnType<typeof readDataPage>;
  let encoding: string;
  if (header.type === "DATA_PAGE" && header.data_page_header) {
    const raw = decompressPage(body, header.uncompressed_page_size, decoder.codec, decoder.compressors);
    decoded = readDataPage(raw, header.data_page_header, decoder);
    encoding = header.data_page_header.encoding;
  } else if (header.type === "DATA_PAGE_V2" && header.data_page_header_v2) {
    decoded = readDataPageV2(body, header, decoder);
    encoding = header.data_page_header_v2.encoding;
  } else {
    throw new Error(`expected a data page, found ${header.type}`);
  }
  const levels = decoded.definitionLevels;
  const defs = levels?.length && levels.some((d) => d !== opts.maxDef) ? Uint8Array.from(levels) : undefined;
  return { values: decoded.dataPage, defs, dictionaryEncoded: encoding.endsWith("_DICTIONARY") };
}

function pageValues(
  reader: Reader,
  encoding: string,
  count: number,
  defs: Uint8Array | undefined,
  opts: DecodeOptions,
): PageValues {
  const { decoder } = opts;
  if (encoding === "PLAIN") {
    const values =
      decoder.type === "BYTE_ARRAY" && opts.compactStrings
        ? byteArrays(reader, count, opts.scratch)
        : readPlain(reader, decoder.type, count, decoder.element.type_length);
    return { values, defs, dictionaryEncoded: false };
  }
  const bitWidth = reader.view.getUint8(reader.offset++);
  // one byte per index when the dictionary needs at most 8 bits (LAION's WIDTH/HEIGHT: 1 MB → 256 KiB a page)
  const indices =
    bitWidth <= 8
      ? opts.scratch.get("indices8", Uint8Array, count)
      : opts.scratch.get("indices32", Int32Array, count);
  if (bitWidth) readRleBitPackedHybrid(reader, bitWidth, indices, reader.view.byteLength - reader.offset);
  else indices.fill(0);
  return { values: indices, defs, dictionaryEncoded: true };
}

type Reader = { view: DataView; offset: number };

function readerOf(bytes: Uint8Array): Reader {
  return { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
}

/**
 * Definition levels as bytes (a flat column's are 0 or 1), as hyparquet reads them: V1 runs start with
 * their byte length (`length` undefined), V2 gives it in the header. Undefined when no row is null.
 */
function readLevels(reader: Reader, count: number, length: number | undefined, opts: DecodeOptions) {
  const { maxDef } = opts;
  if (!maxDef) return undefined;
  const levels = opts.scratch.get("defs", Uint8Array, count);
  readRleBitPackedHybrid(reader, 32 - Math.clz32(maxDef), levels, length);
  return nullCount(levels, maxDef) > 0 ? levels : undefined;
}

function nullCount(defs: Uint8Array | undefined, maxDef: number): number {
  if (!defs) return 0;
  let n = 0;
  for (let i = 0; i < defs.length; i++) if (defs[i] !== maxDef) n++;
  return n;
}

/** Locates `count` PLAIN byte arrays (4-byte little-endian length, then the bytes) without copying them. */
function byteArrays(reader: Reader, count: number, scratch: Scratch): ByteArrays {
  const { view } = reader;
  const offsets = scratch.get("offsets", Int32Array, count + 1);
  let at = reader.offset;
  for (let i = 0; i < count; i++) {
    offsets[i] = at;
    at += 4 + view.getUint32(at, true);
  }
  if (at > view.byteLength)
    throw new Error(`string values run past the end of the page (${at} > ${view.byteLength})`);
  offsets[count] = at;
  reader.offset = at;
  return new ByteArrays(new Uint8Array(view.buffer, view.byteOffset, view.byteLength), offsets);
}
