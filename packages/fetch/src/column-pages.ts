import type { AsyncBuffer, ColumnChunk, DecodedArray, FileMetaData, OffsetIndex } from "hyparquet";
import { parquetSchema, readOffsetIndex } from "hyparquet";
import { parquetHeader, readPage } from "hyparquet/src/column.js";
import { convert, DEFAULT_PARSERS } from "hyparquet/src/convert.js";
import { getMaxDefinitionLevel, getTreePath, isFlatColumn } from "hyparquet/src/schema.js";
import { compressors } from "hyparquet-compressors";
import { type ReusableBuffer, readBytes } from "./open-parquet.js";
import { ByteArrays, type DecodeOptions, decodePageValues } from "./page-values.js";
import { PageWalk } from "./page-walk.js";
import { Scratch } from "./scratch.js";

// Row ranges of a column chunk, page by page, with hyparquet's own page functions (header, decompression,
// levels, PLAIN/dictionary decoding, type conversion). hyparquet turns a page into JS values whole: a
// 262k-row nullable INT64 page became 262k boxed bigints (~14 MB with its level arrays) even when a read
// wanted 16k rows of it. Here a page is kept as hyparquet's raw values (typed arrays for numbers,
// dictionary indices, strings left in the page's bytes: page-values.ts) and null positions, and only the
// rows a read asks for are converted.

type ColumnDecoder = DecodeOptions["decoder"];
type PageLocation = OffsetIndex["page_locations"][number];

/** One data page, kept compact: what it decodes to is produced range by range. */
interface Page {
  /** File row indices covered: [rowStart, rowEnd). */
  rowStart: number;
  rowEnd: number;
  /** Raw values: PLAIN values as hyparquet reads them (strings as ByteArrays), or dictionary indices. */
  values: DecodedArray | ByteArrays;
  /** Set when `values` are indices into it (already converted, as hyparquet converts a dictionary). */
  dictionary: DecodedArray | undefined;
  /** Definition level of each row; undefined when every row has a value. */
  defs: Uint8Array | undefined;
  /** Sequential cursor: the next row to hand out and the index of its value. */
  row: number;
  value: number;
}

/** Compressed bytes of a page fetched ahead (one request covers the pages of a read). */
interface Fetched {
  rowStart: number;
  rowEnd: number;
  bytes: Uint8Array;
}

export interface ColumnPagesParams {
  file: ReusableBuffer;
  metadata: FileMetaData;
  chunk: ColumnChunk;
  /** The column chunk's page locations (its offset index); without them the pages are found by their headers. */
  pages: PageLocation[] | undefined;
  /** File row index of the row group's first row, and the group's row count. */
  groupStart: number;
  groupRows: number;
  /** Arrays to reuse for the pages (pass the same one to the readers of a column's next row groups). */
  scratch?: Scratch;
}

/**
 * Reads one flat column chunk in consecutive row ranges, through its offset index or by walking its page
 * headers. Memory is about one page's compressed and raw bytes plus the rows of the current range,
 * whatever the page's or the row group's row count.
 */
export class ColumnPages {
  private readonly decoder: ColumnDecoder;
  private readonly maxDef: number;
  /** Whether hyparquet converts this column's values to strings (then PLAIN pages keep them as bytes). */
  private readonly strings: boolean;
  private dictionary: DecodedArray | undefined;
  private dictionaryRead = false;
  private nextPage = 0;
  /** Without an offset index: the walk over the chunk's pages and the file row its next page starts at. */
  private walk: PageWalk | undefined;
  private walkRow: number;
  private fetched: Fetched[] = [];
  private page: Page | undefined;
  /**
   * Arrays reused by this column's pages (page-values.ts), and the buffer the compressed pages are read
   * into (local files): a request is made only once every page of the previous one is decoded, and what
   * a read hands out is always a copy.
   */
  private readonly scratch: Scratch;

  constructor(private readonly p: ColumnPagesParams) {
    const meta = p.chunk.meta_data;
    if (!meta) throw new Error("parquet column chunk has no metadata");
    const schemaPath = getTreePath(parquetSchema(p.metadata), meta.path_in_schema);
    this.decoder = {
      pathInSchema: meta.path_in_schema,
      element: schemaPath[schemaPath.length - 1]!.element,
      schemaPath,
      type: meta.type,
      codec: meta.codec,
      compressors,
      parsers: DEFAULT_PARSERS,
    };
    this.maxDef = getMaxDefinitionLevel(schemaPath);
    this.scratch = p.scratch ?? new Scratch();
    // the cases where hyparquet's convert turns BYTE_ARRAY into strings with stringFromBytes (not JSON,
    // DECIMAL, UUID, geometry…)
    const { converted_type: ctype, logical_type: ltype } = this.decoder.element;
    this.strings =
      meta.type === "BYTE_ARRAY" &&
      (ctype === undefined || ctype === "UTF8") &&
      (ltype === undefined || ltype.type === "STRING");
    this.walkRow = p.groupStart;
    if (!p.pages) {
      const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
      this.walk = new PageWalk(p.file, start, start + Number(meta.total_compressed_size));
    }
  }

  /** Rows [rowStart, rowEnd) (file row indices): each call starts where the previous one ended. */
  async read(rowStart: number, rowEnd: number): Promise<DecodedArray> {
    if (!this.dictionaryRead) await this.readDictionary();
    const pieces: DecodedArray[] = [];
    for (let row = rowStart; row < rowEnd; ) {
      const page = await this.pageAt(row, rowEnd);
      const to = Math.min(rowEnd, page.rowEnd);
      pieces.push(this.take(page, row, to));
      row = to;
    }
    return pieces.length === 1 ? pieces[0]! : concat(pieces, rowEnd - rowStart);
  }

  /** The page holding `row`, decoding the next ones (and fetching those up to `until`) as needed. */
  private async pageAt(row: number, until: number): Promise<Page> {
    while (!this.page || this.page.rowEnd <= row) {
      if (this.fetched.length === 0) await this.fetchPages(row, until);
      const next = this.fetched.shift()!;
      this.page = next.rowEnd > row ? this.decode(next) : undefined;
    }
    if (this.page.row > row) throw new Error(`row ${row} of ${this.columnName()} was already read`);
    return this.page;
  }

  /** Queues the pages from the next unfetched one through the one holding `until - 1`. */
  private async fetchPages(row: number, until: number): Promise<void> {
    if (this.p.pages) await this.fetchIndexed(this.p.pages, row, until);
    else await this.fetchWalking(this.walk!, row, until);
  }

  /** The next pages by their headers; a dictionary page met on the way becomes the dictionary. */
  private async fetchWalking(walk: PageWalk, row: number, until: number): Promise<void> {
    while (this.fetched.length === 0 || this.walkRow < until) {
      const next = await walk.next();
      if (!next) {
        if (this.fetched.length > 0) return;
        throw new Error(
          `${this.columnName()}: no page holds row ${row} (the pages end at row ${this.walkRow})`,
        );
      }
      const { header, bytes } = next;
      if (header.type === "DICTIONARY_PAGE") {
        this.setDictionary(bytes);
        continue;
      }
      const rows = header.data_page_header?.num_values ?? header.data_page_header_v2?.num_rows ?? 0;
      this.fetched.push({ rowStart: this.walkRow, rowEnd: this.walkRow + rows, bytes });
      this.walkRow += rows;
    }
  }

  /** Fetches, in one request, the pages from the next unfetched one through the one holding `until - 1`. */
  private async fetchIndexed(pages: PageLocation[], row: number, until: number): Promise<void> {
    const { groupStart, groupRows } = this.p;
    const rowsEnd = (i: number) =>
      groupStart + (i + 1 < pages.length ? Number(pages[i + 1]!.first_row_index) : groupRows);
    while (this.nextPage < pages.length && rowsEnd(this.nextPage) <= row) this.nextPage++;
    const first = this.nextPage;
    if (first >= pages.length) throw new Error(`${this.columnName()}: no page holds row ${row}`);
    let last = first;
    while (last + 1 < pages.length && groupStart + Number(pages[last + 1]!.first_row_index) < until) last++;
    const start = Number(pages[first]!.offset);
    const end = Number(pages[last]!.offset) + pages[last]!.compressed_page_size;
    const bytes = await readBytes(this.p.file, start, end, this.scratch);
    for (let i = first; i <= last; i++) {
      const at = Number(pages[i]!.offset) - start;
      this.fetched.push({
        rowStart: groupStart + Number(pages[i]!.first_row_index),
        rowEnd: rowsEnd(i),
        bytes: bytes.subarray(at, at + pages[i]!.compressed_page_size),
      });
    }
    this.nextPage = last + 1;
  }

  /** The dictionary page, when the chunk starts with one (it sits before the first data page). */
  private async readDictionary(): Promise<void> {
    this.dictionaryRead = true;
    const meta = this.p.chunk.meta_data!;
    const start = Number(meta.dictionary_page_offset || meta.data_page_offset);
    const firstData = Number(this.p.pages?.[0]?.offset ?? start);
    if (start >= firstData) return;
    this.setDictionary(new Uint8Array(await this.p.file.slice(start, firstData)));
  }

  private setDictionary(bytes: Uint8Array): void {
    const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
    const header = parquetHeader(reader);
    if (header.type !== "DICTIONARY_PAGE") return;
    const { data } = readPage(reader, header, this.decoder, undefined, undefined, 0);
    if (data) this.dictionary = convert(data, this.decoder);
  }

  /** Decompresses and decodes one data page into raw values and definition levels (no conversion). */
  private decode(f: Fetched): Page {
    const reader = { view: new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength), offset: 0 };
    const header = parquetHeader(reader);
    if (header.type !== "DATA_PAGE" && header.type !== "DATA_PAGE_V2")
      throw new Error(
        `${this.columnName()}: expected a data page at row ${f.rowStart}, found ${header.type}`,
      );
    const body = f.bytes.subarray(reader.offset, reader.offset + header.compressed_page_size);
    const { values, defs, dictionaryEncoded } = decodePageValues(body, header, {
      decoder: this.decoder,
      maxDef: this.maxDef,
      compactStrings: this.strings,
      scratch: this.scratch,
    });
    const rows = f.rowEnd - f.rowStart;
    const dictionary = dictionaryEncoded ? this.dictionary : undefined;
    let valueCount = rows;
    if (defs) for (let i = 0; i < defs.length; i++) if (defs[i] !== this.maxDef) valueCount--;
    if ((defs && defs.length !== rows) || values.length !== valueCount)
      throw new Error(
        `${this.columnName()}: page at row ${f.rowStart} holds ${defs?.length ?? values.length} rows, its offset index says ${rows}`,
      );
    return { rowStart: f.rowStart, rowEnd: f.rowEnd, values, dictionary, defs, row: f.rowStart, value: 0 };
  }

  /** Rows [from, to) of a page, converted as hyparquet converts them, null where a row has no value. */
  private take(page: Page, from: number, to: number): DecodedArray {
    this.advance(page, from);
    const first = page.value;
    this.advance(page, to);
    const values = this.convertValues(page, first, page.value);
    const defs = page.defs;
    if (!defs) return values;
    const out = new Array(to - from);
    for (let r = from, v = 0; r < to; r++)
      out[r - from] = defs[r - page.rowStart] === this.maxDef ? values[v++] : null;
    return out;
  }

  /** Values [first, last) of a page as hyparquet's convert (or dictionary look-up) returns them. */
  private convertValues(page: Page, first: number, last: number): DecodedArray {
    const raw = page.values;
    if (raw instanceof ByteArrays) return raw.strings(first, last, this.decoder.parsers.stringFromBytes);
    // copied, not a view: the page's bytes are the column's scratch buffer, which the next page reuses
    return page.dictionary
      ? lookUp(sub(raw, first, last), page.dictionary)
      : convert(copy(raw, first, last), this.decoder);
  }

  /** Moves the page's cursor to `row`, counting the values of the rows passed. */
  private advance(page: Page, row: number): void {
    const defs = page.defs;
    if (!defs) page.value += row - page.row;
    else for (let r = page.row; r < row; r++) if (defs[r - page.rowStart] === this.maxDef) page.value++;
    page.row = row;
  }

  private columnName(): string {
    return `column ${this.decoder.pathInSchema.join(".")}`;
  }
}

/** Whether every projected column of a row group can be read by ColumnPages (flat: no lists, maps or structs). */
export function pageReadable(metadata: FileMetaData, chunks: readonly ColumnChunk[]): boolean {
  const schema = parquetSchema(metadata);
  return chunks.every((c) => !!c.meta_data && isFlatColumn(getTreePath(schema, c.meta_data.path_in_schema)));
}

/**
 * The page locations of each chunk, from its offset index (undefined for a chunk without one). The
 * offset indexes of a row group's columns are usually written side by side: one request for all of them
 * when they span under 1 MiB.
 */
export async function readPageLocations(
  file: AsyncBuffer,
  chunks: readonly ColumnChunk[],
): Promise<(PageLocation[] | undefined)[]> {
  const ranges = chunks.map((c) => {
    if (c.offset_index_offset === undefined || !c.offset_index_length) return undefined;
    const start = Number(c.offset_index_offset);
    return { start, end: start + c.offset_index_length };
  });
  const present = ranges.filter((r) => r !== undefined);
  if (present.length === 0) return ranges.map(() => undefined);
  const spanStart = Math.min(...present.map((r) => r.start));
  const spanEnd = Math.max(...present.map((r) => r.end));
  const span =
    spanEnd - spanStart <= 1 << 20 ? new Uint8Array(await file.slice(spanStart, spanEnd)) : undefined;
  const out: (PageLocation[] | undefined)[] = [];
  for (const r of ranges) {
    if (!r) {
      out.push(undefined);
      continue;
    }
    const bytes = span
      ? span.subarray(r.start - spanStart, r.end - spanStart)
      : new Uint8Array(await file.slice(r.start, r.end));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    out.push(readOffsetIndex({ view, offset: 0 }).page_locations);
  }
  return out;
}

function copy(values: DecodedArray, from: number, to: number): DecodedArray {
  return Array.isArray(values) ? values.slice(from, to) : (values as Uint8Array).slice(from, to);
}

function sub(values: DecodedArray, from: number, to: number): DecodedArray {
  return Array.isArray(values) ? values.slice(from, to) : (values as Uint8Array).subarray(from, to);
}

/** Dictionary look-up as hyparquet's convertWithDictionary does it, into a typed array when the dictionary is one. */
function lookUp(indices: DecodedArray, dictionary: DecodedArray): DecodedArray {
  const out: DecodedArray = ArrayBuffer.isView(dictionary)
    ? new (dictionary.constructor as new (n: number) => Exclude<DecodedArray, unknown[]>)(indices.length)
    : new Array(indices.length);
  for (let i = 0; i < indices.length; i++) (out as unknown[])[i] = dictionary[indices[i] as number];
  return out;
}

function concat(pieces: readonly DecodedArray[], length: number): DecodedArray {
  const out = new Array(length);
  let at = 0;
  for (const piece of pieces) for (let i = 0; i < piece.length; i++) out[at++] = piece[i];
  return out;
}
