// Generates a LAION-like parquet for the @laion/fetch benchmark: the real URL/TEXT rows of
// fixtures/laion/test_10000.parquet cycled (each URL and caption made unique with the row number,
// so dictionaries and compression cannot shrink the file below what real data gives), plus WIDTH,
// HEIGHT, similarity, punsafe, pwatermark, hash. Written row group by row group (constant memory).
// Usage: node tools/bench/fetch-gen.mjs OUT.parquet ROWS [ROW_GROUP_ROWS]
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { fileWriter, ParquetWriter, schemaFromColumnData } from "hyparquet-writer";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export async function generate(out, rows, rowGroupSize = 1_000_000) {
  const src = await parquetReadObjects({
    file: await asyncBufferFromFile(path.join(root, "fixtures/laion/test_10000.parquet")),
    columns: ["URL", "TEXT"],
    compressors,
  });
  const types = [
    ["URL", "STRING"],
    ["TEXT", "STRING"],
    ["WIDTH", "INT64"],
    ["HEIGHT", "INT64"],
    ["similarity", "DOUBLE"],
    ["punsafe", "DOUBLE"],
    ["pwatermark", "DOUBLE"],
    ["hash", "INT64"],
  ];
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.tmp`;
  const schema = schemaFromColumnData({
    columnData: types.map(([name, type]) => ({ name, data: [], type, nullable: true })),
  });
  const writer = new ParquetWriter({ writer: fileWriter(tmp), schema, statistics: false });
  // xorshift PRNG: deterministic values, no Math.random
  let s = 0x12345678;
  const rnd = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  for (let start = 0; start < rows; start += rowGroupSize) {
    const n = Math.min(rowGroupSize, rows - start);
    const cols = types.map(() => new Array(n));
    for (let i = 0; i < n; i++) {
      const r = src[(start + i) % src.length];
      const k = start + i;
      // pre-encoded UTF-8 (hyparquet-writer passes bytes through; TextEncoder per string is slower)
      cols[0][i] = r.URL ? Buffer.from(`${r.URL}${r.URL.includes("?") ? "&" : "?"}n=${k}`) : null;
      cols[1][i] = r.TEXT ? Buffer.from(`${r.TEXT} #${k}`) : null;
      cols[2][i] = BigInt(64 + Math.floor(rnd() * 2000));
      cols[3][i] = BigInt(64 + Math.floor(rnd() * 2000));
      cols[4][i] = 0.2 + rnd() * 0.2;
      cols[5][i] = rnd();
      cols[6][i] = rnd();
      cols[7][i] = BigInt(Math.floor(rnd() * 2 ** 52)) - 2n ** 51n;
    }
    await writer.write({
      columnData: types.map(([name, type], j) => ({ name, data: cols[j], type, nullable: true })),
      rowGroupSize: n,
    });
  }
  await writer.finish();
  fs.renameSync(tmp, out);
  return fs.statSync(out).size;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [out, rows, rg] = process.argv.slice(2);
  const t = performance.now();
  const size = await generate(out, Number(rows), rg ? Number(rg) : undefined);
  console.log(
    `${out}: ${rows} rows, ${(size / 1e6).toFixed(1)} MB in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
}
