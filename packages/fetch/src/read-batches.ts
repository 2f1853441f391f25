import type { AsyncBuffer, ColumnData, DecodedArray, FileMetaData } from "hyparquet";
import { parquetRead } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { ColumnPages, pageReadable, readPageLocations } from "./column-pages.js";
import { Scratch } from "./scratch.js";

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
   * Rows of the first read inside a row group; later reads double up to `maxBatchRows`, so an early
   * stop (--max-samples) fetches little. Pages are fetched and decoded once whatever the read size (a
   * page overhanging a read is kept, undecoded rows and all, for the next); with offset indexes only the
   * pages covering a read are fetched, without them the column chunk is fetched in windows as it is read.
   */
  batchRows?: number;
  /**
   * Upper bound of the growing read size (default 4 096 rows): bounds the rows one read holds as JS
   * values. Measured on 8 LAION columns since pages are decoded range by range: 4k-row reads peak
   * ~10 MB lower than 16k-row ones and cost less CPU (the rows of a read die young instead of being
   * promoted to the old generation).
   */
  maxBatchRows?: number;
  /**
   * The reused page arrays, one `Scratch` per column in `columns` order (default: a new set for this
   * file). A caller reading files one after another passes the same set to each, so a file does not
   * allocate its own while the last one's wait for a full GC. Nothing a read returns points into them.
   */
  scratch?: readonly Scratch[];
}

/**
 * Read a parquet file row group by row group with column projection. Lazy: the consumer stopping
 * (break / return) means no further range request is made, which is how --max-samples stops early.
 */
export async function* readBatches(params: ReadBatchesParams): AsyncGenerator<ColumnBatch> {
  const { file, metadata } = params;
  const columns = [...params.columns];
  const maxBatchRows = params.maxBatchRows ?? 4_096;
  let step = Math.min(params.batchRows ?? 4_096, maxBatchRows);
  let groupStart = 0;
  // one set of reused page arrays per column for the whole file at least (a new set per row group was
  // ~10 MB of garbage buffers per group in a LAION file)
  const scratch = params.scratch ?? columns.map(() => new Scratch());
  if (scratch.length !== columns.length)
    throw new Error(`readBatches: ${scratch.length} scratch sets for ${columns.length} columns`);
  for (const group of metadata.row_groups) {
    const groupRows = Number(group.num_rows);
    const groupEnd = groupStart + groupRows;
    const projected = columns.map((name) =>
      group.columns.find((c) => c.meta_data?.path_in_schema[0] === name),
    );
    const chunks = projected.filter((c) => c !== undefined);
    if (chunks.length === columns.length && pageReadable(metadata, chunks)) {
      // page by page, through the offset indexes or the page headers: every page fetched and decoded
      // once, and only the rows of each read converted (a column's pages need not line up with the
      // reads: LAION files have 10k-row string pages but 131k–262k-row numeric ones)
      const locations = await readPageLocations(file, chunks);
      const readers = chunks.map(
        (chunk, i) =>
          new ColumnPages({
            file,
            metadata,
            chunk,
            pages: locations[i],
            groupStart,
            groupRows,
            scratch: scratch[i],
          }),
      );
      for (let start = groupStart; start < groupEnd; ) {
        const end = Math.min(groupEnd, start + step);
        const out: Record<string, DecodedArray> = {};
        for (let i = 0; i < columns.length; i++) out[columns[i]!] = await readers[i]!.read(start, end);
        yield { rowStart: start, length: end - start, columns: out };
        start = end;
        step = Math.min(step * 2, maxBatchRows);
      }
    } else {
      // a column that is not flat (lists, structs) or missing: the whole row group through hyparquet
      yield await readRange({ file, metadata, columns, rowStart: groupStart, rowEnd: groupEnd });
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

/** Join the chunks of one column into exactly [rowStart, rowEnd) (chunks may overhang the range). */
function assemble(list: ColumnData[], rowStart: number, rowEnd: number): DecodedArray {
  const first = list[0];
  if (list.length === 1 && first && first.rowStart === rowStart && first.rowEnd === rowEnd)
    return first.columnData;
  const out = new Array(rowEnd - rowStart).fill(null);
  for (const c of list) {
    const from = Math.max(c.rowStart, rowStart);
    const to = Math.min(c.rowEnd, rowEnd);
    for (let r = from; r < to; r++) out[r - rowStart] = c.columnData[r - c.rowStart];
  }
  return out;
}
