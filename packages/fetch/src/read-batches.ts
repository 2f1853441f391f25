import type { AsyncBuffer, ColumnData, DecodedArray, FileMetaData } from "hyparquet";
import { parquetRead } from "hyparquet";
import { compressors } from "hyparquet-compressors";

/** A run of consecutive rows of a file, column by column (only the projected columns). */
export interface ColumnBatch {
  /** Index of the first row in the file. */
  rowStart: number;
  length: number;
  columns: Record<string, DecodedArray>;
}

export interface ReadBatchesParams {
  file: AsyncBuffer;
  metadata: FileMetaData;
  /** Source column names to read (projection): other columns are never fetched. */
  columns: readonly string[];
  /**
   * Rows of the first read inside a row group when the file has offset indexes (only the pages
   * covering those rows are fetched); later reads double up to `maxBatchRows`, so an early stop
   * (--max-samples) fetches little while a full scan makes few calls (each call has a fixed cost;
   * pages straddling its edges are carried over, not decoded again). Without offset indexes a row group is read
   * in one go, since each partial read would fetch and decode the whole column chunk again.
   */
  batchRows?: number;
  /**
   * Upper bound of the growing read size (default 16 384 rows, i.e. no growth): bounds the memory of
   * one read. Measured on 8 LAION columns: 64k-row reads raised peak RSS by ~20 MB over 16k-row ones at
   * the same speed (pages are decoded once whatever the read size), 256k-row reads by ~170 MB.
   */
  maxBatchRows?: number;
}

/**
 * Read a parquet file row group by row group with column projection. Lazy: the consumer stopping
 * (break / return) means no further range request is made, which is how --max-samples stops early.
 */
export async function* readBatches(params: ReadBatchesParams): AsyncGenerator<ColumnBatch> {
  const { file, metadata } = params;
  const columns = [...params.columns];
  const maxBatchRows = params.maxBatchRows ?? 16_384;
  let step = Math.min(params.batchRows ?? 16_384, maxBatchRows);
  let groupStart = 0;
  // decoded rows past the last read, per column: pages are decoded whole, and a column's pages need not
  // line up with the reads (LAION files have 10k-row string pages but 131k–262k-row numeric ones)
  const carry = new Map<string, Carried>();
  for (const group of metadata.row_groups) {
    carry.clear();
    const groupRows = Number(group.num_rows);
    const groupEnd = groupStart + groupRows;
    const projected = group.columns.filter((c) => columns.includes(c.meta_data?.path_in_schema[0] ?? ""));
    const indexed = projected.every((c) => c.offset_index_offset !== undefined && c.offset_index_length);
    for (let start = groupStart; start < groupEnd; ) {
      const end = indexed ? Math.min(groupEnd, start + step) : groupEnd;
      const range = { file, metadata, columns, rowStart: start, rowEnd: end };
      yield indexed ? await readPagesOnce({ ...range, carry }) : await readRange(range);
      start = end;
      if (indexed) step = Math.min(step * 2, maxBatchRows);
    }
    groupStart = groupEnd;
  }
}

interface RangeParams {
  file: AsyncBuffer;
  metadata: FileMetaData;
  columns: string[];
  rowStart: number;
  rowEnd: number;
}

/**
 * [rowStart, rowEnd) through the offset indexes, decoding every page once: each column is read from
 * where its carried-over page ends, and the page overhanging rowEnd is kept for the next range.
 * (One read of all columns re-decoded a 262k-row page four times across 64k-row ranges.)
 */
async function readPagesOnce(p: RangeParams & { carry: Map<string, Carried> }): Promise<ColumnBatch> {
  const out: Record<string, DecodedArray> = {};
  for (const name of p.columns) {
    const pieces: Carried[] = [];
    let from = p.rowStart;
    const held = p.carry.get(name);
    if (held && held.rowStart <= p.rowStart && held.rowEnd > p.rowStart) {
      pieces.push(held);
      from = Math.min(held.rowEnd, p.rowEnd);
    }
    if (from < p.rowEnd) {
      await parquetRead({
        file: p.file,
        metadata: p.metadata,
        columns: [name],
        rowStart: from,
        rowEnd: p.rowEnd,
        compressors,
        useOffsetIndex: true,
        onChunk: (chunk) => pieces.push(chunk),
      });
    }
    const last = pieces.reduce<Carried | undefined>((a, c) => (a && a.rowEnd >= c.rowEnd ? a : c), undefined);
    if (last && last.rowEnd > p.rowEnd) p.carry.set(name, pack(last));
    else p.carry.delete(name);
    out[name] = assemble(pieces, p.rowStart, p.rowEnd);
  }
  return { rowStart: p.rowStart, length: p.rowEnd - p.rowStart, columns: out };
}

/** [rowStart, rowEnd) of all columns in one read (files without offset indexes: whole row groups). */
async function readRange(p: RangeParams): Promise<ColumnBatch> {
  const chunks = new Map<string, ColumnData[]>();
  await parquetRead({
    file: p.file,
    metadata: p.metadata,
    columns: p.columns,
    rowStart: p.rowStart,
    rowEnd: p.rowEnd,
    compressors,
    useOffsetIndex: false,
    onChunk: (chunk) => {
      const list = chunks.get(chunk.columnName);
      if (list) list.push(chunk);
      else chunks.set(chunk.columnName, [chunk]);
    },
  });
  const length = p.rowEnd - p.rowStart;
  const out: Record<string, DecodedArray> = {};
  for (const name of p.columns) out[name] = assemble(chunks.get(name) ?? [], p.rowStart, p.rowEnd);
  return { rowStart: p.rowStart, length, columns: out };
}

/**
 * A decoded page held for the next reads. hyparquet returns a nullable INT64 or DOUBLE page as a plain
 * array of boxed values (~32 bytes a bigint, ~24 a double), so a carried 262k-row INT64 page held 8 MB
 * of heap for the whole scan; packed into a typed array plus a null mask it holds 2.3 MB.
 */
interface Carried {
  rowStart: number;
  rowEnd: number;
  columnData: DecodedArray;
  /** Set when columnData is a packed typed array: 1 where the value is null. */
  nulls?: Uint8Array;
}

/** Packs a page of numbers or bigints (nulls allowed) into a typed array; anything else is kept as is. */
function pack(c: Carried): Carried {
  const data = c.columnData;
  if (c.nulls || !Array.isArray(data) || data.length < PACK_MIN_ROWS) return c;
  let kind: "number" | "bigint" | undefined;
  for (const v of data) {
    if (v === null || v === undefined) continue;
    const t = typeof v;
    if ((t !== "number" && t !== "bigint") || (kind && t !== kind)) return c;
    kind = t;
  }
  if (!kind) return c;
  const values = kind === "bigint" ? new BigInt64Array(data.length) : new Float64Array(data.length);
  const nulls = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v === null || v === undefined) nulls[i] = 1;
    else values[i] = v;
  }
  return { rowStart: c.rowStart, rowEnd: c.rowEnd, columnData: values, nulls };
}

/** Pages shorter than this are not worth packing (they are dropped after a read or two anyway). */
const PACK_MIN_ROWS = 4096;

/** Join the chunks of one column into exactly [rowStart, rowEnd) (chunks may overhang the range). */
function assemble(list: Carried[], rowStart: number, rowEnd: number): DecodedArray {
  const first = list[0];
  if (list.length === 1 && first && !first.nulls && first.rowStart === rowStart && first.rowEnd === rowEnd)
    return first.columnData;
  const out = new Array(rowEnd - rowStart).fill(null);
  for (const c of list) {
    const from = Math.max(c.rowStart, rowStart);
    const to = Math.min(c.rowEnd, rowEnd);
    const { columnData, nulls } = c;
    for (let r = from; r < to; r++) {
      const i = r - c.rowStart;
      out[r - rowStart] = nulls?.[i] ? null : columnData[i];
    }
  }
  return out;
}
