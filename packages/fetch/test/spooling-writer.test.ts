import fs from "node:fs";
import path from "node:path";
import type { ColumnSource } from "hyparquet-writer";
import { ByteWriter, ParquetWriter, schemaFromColumnData } from "hyparquet-writer";
import { expect, test } from "vitest";
import { SpoolingParquetWriter } from "../src/spooling-writer.js";
import { readAll, tempDir } from "./helpers.js";

type Column = Omit<ColumnSource, "data"> & { data: unknown[] };

/** Groups that vary the way real ones do: nulls, all-null groups, -0, NaN, dictionary vs plain, big INT64. */
function groupColumns(g: number, rows: number): Column[] {
  const at = (i: number) => g * rows + i;
  return [
    {
      name: "URL",
      type: "STRING",
      // odd groups repeat a few URLs (dictionary pages), even ones do not (plain)
      data: Array.from({ length: rows }, (_, i) =>
        g % 2 ? `https://e.com/${i % 3}` : `https://e.com/${at(i)}`,
      ),
      statistics: false,
    },
    {
      name: "TEXT",
      type: "STRING",
      data: Array.from({ length: rows }, (_, i) => (i % 7 ? `caption ${at(i)}` : null)),
    },
    {
      name: "WIDTH",
      type: "INT64",
      data: Array.from({ length: rows }, (_, i) => (g === 3 ? null : BigInt(at(i)) * 0x7fff_ffffn)),
    },
    {
      name: "similarity",
      type: "DOUBLE",
      data: Array.from({ length: rows }, (_, i) =>
        i === 0 ? -0 : i === 1 && g % 4 === 0 ? Number.NaN : at(i) / 7,
      ),
    },
  ];
}

function writeAll(writer: ParquetWriter, groups: number, rows: number) {
  for (let g = 0; g < groups; g++)
    writer.write({ columnData: groupColumns(g, rows) as ColumnSource[], rowGroupSize: rows });
  writer.finish();
  return writer.writer.getBytes();
}

const schema = () => schemaFromColumnData({ columnData: groupColumns(0, 1) as ColumnSource[] });

test("the footer is written byte for byte as ParquetWriter writes it, from metadata spooled to disk", async () => {
  const dir = tempDir();
  const spoolPath = path.join(dir, "out.parquet.groups");
  // 40 groups: more than 14, so the footer's list length is a varint, as in real files
  const plain = writeAll(new ParquetWriter({ writer: new ByteWriter(), schema: schema() }), 40, 50);
  const spooling = new SpoolingParquetWriter({ writer: new ByteWriter(), schema: schema(), spoolPath });
  // the spool holds the metadata, not the writer (and leaves no file behind, even while open)
  spooling.write({ columnData: groupColumns(0, 50) as ColumnSource[], rowGroupSize: 50 });
  expect(spooling.row_groups).toHaveLength(0);
  expect(spooling.pendingIndexes).toHaveLength(0);
  expect(fs.readdirSync(dir)).toEqual([]);
  for (let g = 1; g < 40; g++)
    spooling.write({ columnData: groupColumns(g, 50) as ColumnSource[], rowGroupSize: 50 });
  spooling.finish();
  const bytes = spooling.writer.getBytes();
  expect(Buffer.from(bytes).equals(Buffer.from(plain))).toBe(true);
  const file = path.join(dir, "out.parquet");
  fs.writeFileSync(file, bytes);
  const rows = await readAll(file);
  expect(rows).toHaveLength(2_000);
  expect(rows[1_998]).toMatchObject({
    URL: "https://e.com/0",
    TEXT: "caption 1998",
    WIDTH: 1998n * 0x7fff_ffffn,
  });
  expect(fs.readdirSync(dir)).toEqual(["out.parquet"]);
});

test("groups with page indexes stay whole and are written in order with the spooled ones", () => {
  const dir = tempDir();
  const spoolPath = path.join(dir, "out.groups");
  // a 100-byte page size splits some columns into several pages: those chunks get offset indexes
  const write = (writer: ParquetWriter) => {
    for (let g = 0; g < 20; g++)
      writer.write({
        columnData: groupColumns(g, 30) as ColumnSource[],
        rowGroupSize: 30,
        pageSize: g % 3 ? 1 << 20 : 100,
      });
    writer.finish();
    return Buffer.from(writer.writer.getBytes());
  };
  const plain = write(new ParquetWriter({ writer: new ByteWriter(), schema: schema() }));
  const spooling = new SpoolingParquetWriter({ writer: new ByteWriter(), schema: schema(), spoolPath });
  expect(write(spooling).equals(plain)).toBe(true);
  // those groups' chunks were kept for finish() to record their index offsets in
  expect(spooling.pendingIndexes.length).toBeGreaterThan(0);
});
