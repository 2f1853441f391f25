import type { AsyncBuffer, ColumnChunk, DecodedArray, FileMetaData, OffsetIndex } from "hyparquet";
import { parquetSchema, readOffsetIndex } from "hyparquet";
import { parquetHeader, readPage } from "hyparquet/src/column.js";
import { convert, DEFAULT_PARSERS } from "hyparquet/src/convert.js";
import { decompressPage, readDataPage, readDataPageV2 } from "hyparquet/src/datapage.js";
import { getMaxDefinitionLevel, getTreePath, isFlatColumn } from "hyparquet/src/schema.js";
import { compressors } from "hyparquet-compressors";
import { PageWalk } from "./page-walk.js";

// Row ranges of a column chunk, page by page, with hyparquet's own page functions (header, decompression,
// levels, PLAIN/dictionary decoding, type conversion). hyparquet turns a page into JS values whole: a
// 262k-row nullable INT64 page became 262k boxed bigints (~14 MB with its level arrays) even when a read
// wanted 16k rows of it. Here a page is kept as hyparquet's raw values (typed arrays for numbers,
// dictionary indices) and null positions, and only the rows a read asks for are converted.

type ColumnDecoder = Parameters<typeof readDataPage>[2];
type PageLocation = OffsetIndex["page_locations"][number];

/** One data page, kept compact: what it decodes to is produced range by range. */
interface Page {
  /** File row indices covered: [rowStart, rowEnd). */
  rowStart: number;
  rowEnd: number;
  /** Raw values: PLAIN values as hyparquet reads them, or dictionary indices. */
  values: DecodedArray;
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
  file: AsyncBuffer;
  metadata: FileMetaData;
  chunk: ColumnChunk;
  /** The column chunk's page locations (its offset index); without them the pages are found by their headers. */
  pages: PageLocation[] | undefined;
  /** File row index of the row group's first row, and the group's row count. */
  groupStart: number;
  groupRows: number;
}

/**
 * Reads one flat column chunk in consecutive row ranges, through its offset index or by walking its page
 * headers. Memory is about one page's compressed and raw bytes plus the rows of the current range,
 * whatever the page's or the row group's row count.
 */
export class ColumnPages {
  private readonly decoder: ColumnDecoder;
  private readonly maxDef: number;
  private dictionary: DecodedArray | undefined;
  private dictionaryRead = false;
  private nextPage = 0;
  /** Without an offset index: the walk over the chunk's pages and the file row its next page starts at. */
  private walk: PageWalk | undefined;
  private walkRow: number;
  private fetched: Fetched[] = [];
  private page: Page | undefined;

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
    const bytes = new Uint8Array(await this.p.file.slice(start, end));
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
    const body = f.bytes.subarray(reader.offset, reader.offset + header.compressed_page_size);
    let decoded: ReturnType<typeof readDataPage>;
    let encoding: string;
    if (header.type === "DATA_PAGE" && header.data_page_header) {
      const raw = decompressPage(body, header.uncompressed_page_size, this.decoder.codec, compressors);
      decoded = readDataPage(raw, header.data_page_header, this.decoder);
      encoding = header.data_page_header.encoding;
    } else if (header.type === "DATA_PAGE_V2" && header.data_page_header_v2) {
      decoded = readDataPageV2(body, header, this.decoder);
      encoding = header.data_page_header_v2.encoding;
    } else {
      throw new Error(
        `${this.columnName()}: expected a data page at row ${f.rowStart}, found ${header.type}`,
      );
    }
    const rows = f.rowEnd - f.rowStart;
    const defs = compactLevels(decoded.definitionLevels, this.maxDef);
    const dictionary = this.dictionary && encoding.endsWith("_DICTIONARY") ? this.dictionary : undefined;
    const values =
      dictionary && Array.isArray(decoded.dataPage)
        ? indexArray(decoded.dataPage, dictionary.length)
        : decoded.dataPage;
    const valueCount = defs ? defs.reduce((n, d) => n + (d === this.maxDef ? 1 : 0), 0) : rows;
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
    const raw = sub(page.values, first, page.value);
    const values = page.dictionary ? lookUp(raw, page.dictionary) : convert(raw, this.decoder);
    const defs = page.defs;
    if (!defs) return values;
    const out = new Array(to - from);
    for (let r = from, v = 0; r < to; r++)
      out[r - from] = defs[r - page.rowStart] === this.maxDef ? values[v++] : null;
    return out;
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

/** Definition levels as bytes, or undefined when every row is at the maximum (no nulls). */
function compactLevels(levels: number[] | undefined, max: number): Uint8Array | undefined {
  if (!levels?.length || levels.every((d) => d === max)) return undefined;
  return Uint8Array.from(levels);
}

function sub(values: DecodedArray, from: number, to: number): DecodedArray {
  return Array.isArray(values) ? values.slice(from, to) : (values as Uint8Array).subarray(from, to);
}

/**
 * Dictionary indices come as a plain array of small integers (8 bytes each): 1 byte each when the
 * dictionary has at most 256 entries (a 262k-row WIDTH page: 2 MB → 256 KiB), else 4.
 */
function indexArray(indices: number[], size: number): Uint8Array | Int32Array {
  return size <= 0x100 ? Uint8Array.from(indices) : Int32Array.from(indices);
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
