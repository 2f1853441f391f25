// What a parquet writer holds per written row group until its footer, for the @laion/fetch benchmark
// (`ONLY=5 node tools/bench/fetch.bench.mjs`, which runs this twice in child processes). Writes GROUPS
// row groups of 2,500 LAION-like rows (the fixture's URLs and captions, made unique, and the six
// numeric columns) with `writer` = `fetch` (writeFiltered, as a fetch writes its output) or
// `hyparquet` (hyparquet-writer's ParquetWriter with the same columns and options: the baseline), and
// prints as JSON the JS heap retained per group (the slope of the live heap after forced GCs, sampled
// every 20 groups from group 20 on) and
// the footer bytes per group of the finished file.
// Usage: node --expose-gc tools/bench/fetch-row-groups.mjs fetch|hyparquet GROUPS OUT.parquet
import path from "node:path";
import { fileURLToPath } from "node:url";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { fileWriter, ParquetWriter, schemaFromColumnData } from "hyparquet-writer";
import { snappyCompressor } from "hysnappy";
import { writeFiltered } from "../../packages/fetch/dist/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const GROUP = 2_500;
const FIRST = 20;
const [writer, groupsArg, out] = process.argv.slice(2);
const groups = Number(groupsArg);
if (!["fetch", "hyparquet"].includes(writer) || !(groups > FIRST) || !out || typeof gc !== "function") {
  console.error(
    "usage: node --expose-gc tools/bench/fetch-row-groups.mjs fetch|hyparquet GROUPS(>20) OUT.parquet",
  );
  process.exit(2);
}

const src = await parquetReadObjects({
  file: await asyncBufferFromFile(path.join(root, "fixtures/laion/test_10000.parquet")),
  columns: ["URL", "TEXT"],
  compressors,
});
const row = (k) => {
  const r = src[k % src.length];
  return {
    URL: `${r.URL}#${k}`,
    TEXT: r.TEXT ? `${r.TEXT} #${k}` : null,
    WIDTH: BigInt(64 + (k % 2000)),
    HEIGHT: BigInt(64 + ((k * 7) % 2000)),
    similarity: 0.3 + (k % 1000) / 10_000,
    punsafe: (k % 997) / 997,
    pwatermark: (k % 991) / 991,
    hash: BigInt(k) * 2_654_435_761n - 2n ** 51n,
  };
};
const group = (g) => Array.from({ length: GROUP }, (_, i) => row(g * GROUP + i));

/** [group, live heap] every 20 groups from group 20 (warmed up), and after the last group. */
const samples = [];
/** Forced GCs, then the live heap (called between groups, when the writer holds only its metadata). */
function measure(g) {
  if (g < FIRST || (g % 20 !== 0 && g !== groups)) return;
  gc();
  gc();
  samples.push([g, process.memoryUsage().heapUsed]);
}
/** Least-squares slope of the live heap over the groups: bytes held per group, whatever the constant. */
function slope() {
  const n = samples.length;
  const mx = samples.reduce((a, [x]) => a + x, 0) / n;
  const my = samples.reduce((a, [, y]) => a + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of samples) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
  }
  return sxy / sxx;
}

if (writer === "fetch") {
  await writeFiltered({
    outPath: out,
    rows: (async function* () {
      for (let g = 0; g < groups; g++) {
        measure(g);
        yield group(g);
      }
      // asked for more rows: every group is written, the footer is not yet
      measure(groups);
    })(),
    rowGroupSize: GROUP,
  });
} else {
  const names = ["URL", "TEXT", "WIDTH", "HEIGHT", "similarity", "punsafe", "pwatermark", "hash"];
  const types = ["STRING", "STRING", "INT64", "INT64", "DOUBLE", "DOUBLE", "DOUBLE", "INT64"];
  // the columns as writeFiltered hands them over: UTF-8 bytes, statistics for the numeric ones
  const columns = (rows) =>
    names.map((name, j) => ({
      name,
      type: types[j],
      nullable: true,
      statistics: types[j] !== "STRING",
      data: rows.map((r) =>
        r[name] === null ? null : types[j] === "STRING" ? Buffer.from(r[name]) : r[name],
      ),
    }));
  const w = new ParquetWriter({
    writer: fileWriter(out),
    schema: schemaFromColumnData({ columnData: columns([]) }),
    compressors: { SNAPPY: snappyCompressor() },
  });
  for (let g = 0; g < groups; g++) {
    measure(g);
    await w.write({ columnData: columns(group(g)), rowGroupSize: GROUP });
  }
  measure(groups);
  await w.finish();
}
const md = await parquetMetadataAsync(await asyncBufferFromFile(out));
console.log(
  JSON.stringify({
    writer,
    groups: md.row_groups.length,
    heldBytesPerGroup: slope(),
    heapMbFirst: samples[0][1] / 1e6,
    heapMbLast: samples.at(-1)[1] / 1e6,
    footerBytesPerGroup: md.metadata_length / md.row_groups.length,
  }),
);
