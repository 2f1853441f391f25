import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type InputRow, openInput } from "../../src/download/index.js";
import { realCaptions, tempDir, writeParquet } from "./helpers.js";

let work: string;
let captions: string[];
const urls = Array.from({ length: 7 }, (_, i) => `https://example.com/img/${i}.jpg`);

async function collect(rows: AsyncIterable<InputRow>): Promise<InputRow[]> {
  const out: InputRow[] = [];
  for await (const r of rows) out.push(r);
  return out;
}

const csvCell = (s: string) => `"${s.replace(/"/g, '""')}"`;

beforeAll(async () => {
  work = tempDir("input");
  // real captions, with a quote, a comma and a newline forced in so quoting is exercised
  captions = (await realCaptions(7)).map((c) => c.caption);
  captions[2] = `${captions[2]}, "quoted"\nsecond line`;
  writeParquet(path.join(work, "a.parquet"), {
    URL: { data: urls, type: "STRING" },
    TEXT: { data: captions, type: "STRING" },
    similarity: { data: urls.map((_, i) => BigInt(i * 10)), type: "INT64" },
  });
  fs.writeFileSync(
    path.join(work, "a.csv"),
    `\uFEFFurl,caption,similarity\n${urls.map((u, i) => `${u},${csvCell(captions[i]!)},${i * 10}`).join("\n")}\n`,
  );
  const tsvCaptions = captions.map((c) => c.replace(/[\t\n]/g, " "));
  fs.writeFileSync(
    path.join(work, "a.tsv"),
    `URL\tTEXT\tsimilarity\n${urls.map((u, i) => `${u}\t${tsvCaptions[i]}\t${i * 10}`).join("\n")}\n`,
  );
  fs.writeFileSync(
    path.join(work, "a.jsonl"),
    `${urls.map((u, i) => JSON.stringify({ url: u, text: captions[i], similarity: i * 10 })).join("\n")}\n\n`,
  );
  fs.writeFileSync(path.join(work, "a.txt"), `${urls.join("\n")}\n`);
});

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe("input formats give the same rows", () => {
  test.each(["a.parquet", "a.csv", "a.jsonl"])("%s", async (name) => {
    const input = await openInput({ input: path.join(work, name), saveAdditionalColumns: ["similarity"] });
    const rows = await collect(input.rows({ shardSize: 3 }));
    expect(rows.map((r) => [r.shardId, r.indexInShard])).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
      [1, 0],
      [1, 1],
      [1, 2],
      [2, 0],
    ]);
    expect(rows.map((r) => r.url)).toEqual(urls);
    expect(rows.map((r) => r.caption)).toEqual(captions);
    expect(rows.map((r) => Number(r.extra.similarity))).toEqual(urls.map((_, i) => i * 10));
  });

  test("tsv (no quoting: tabs and newlines cannot occur in a field)", async () => {
    const rows = await collect(
      (await openInput({ input: path.join(work, "a.tsv") })).rows({ shardSize: 10 }),
    );
    expect(rows.map((r) => r.caption)).toEqual(captions.map((c) => c.replace(/[\t\n]/g, " ")));
  });

  test("txt: one URL per line, no captions", async () => {
    const input = await openInput({ input: path.join(work, "a.txt") });
    expect(input.hasCaptions).toBe(false);
    const rows = await collect(input.rows({ shardSize: 10 }));
    expect(rows.map((r) => [r.url, r.caption])).toEqual(urls.map((u) => [u, null]));
  });
});

test("every input file starts a new shard, as in img2dataset", async () => {
  const dir = path.join(work, "folder");
  fs.mkdirSync(dir);
  for (const name of ["1.parquet", "2.parquet"])
    fs.copyFileSync(path.join(work, "a.parquet"), path.join(dir, name));
  const input = await openInput({ input: dir });
  expect(input.files.map((f) => path.basename(f.file))).toEqual(["1.parquet", "2.parquet"]);
  expect(input.rowCount).toBe(14);
  const rows = await collect(input.rows({ shardSize: 5 }));
  // 7 rows per file → shards 0,1 then 2,3
  expect(rows.map((r) => `${r.shardId}:${r.indexInShard}`)).toEqual([
    "0:0",
    "0:1",
    "0:2",
    "0:3",
    "0:4",
    "1:0",
    "1:1",
    "2:0",
    "2:1",
    "2:2",
    "2:3",
    "2:4",
    "3:0",
    "3:1",
  ]);
});

test("shards nobody wants are not read (parquet row groups and whole files are skipped)", async () => {
  const input = await openInput({ input: [path.join(work, "a.parquet"), path.join(work, "a.parquet")] });
  const asked: number[] = [];
  const rows = await collect(
    input.rows({
      shardSize: 7,
      wantShard: (s) => {
        asked.push(s);
        return s === 1;
      },
    }),
  );
  // only shard 1's rows come out: the first file (shard 0) was skipped without being decoded
  expect(rows.every((r) => r.shardId === 1)).toBe(true);
  expect(rows).toHaveLength(7);
  expect(asked).toContain(0);
});

test("errors name the file", async () => {
  await expect(openInput({ input: path.join(work, "missing.parquet") })).rejects.toThrow(
    /input file not found: .*missing\.parquet/,
  );
  fs.writeFileSync(path.join(work, "bad.jsonl"), '{"url": "x", "caption": "y"}\n{oops\n');
  const input = await openInput({ input: path.join(work, "bad.jsonl") });
  await expect(collect(input.rows({ shardSize: 10 }))).rejects.toThrow(/bad\.jsonl:2: invalid JSON/);
  fs.writeFileSync(path.join(work, "data.xyz"), "x");
  await expect(openInput({ input: path.join(work, "data.xyz") })).rejects.toThrow(
    /cannot tell the format of .*data\.xyz/,
  );
});

describe("inputs that are not what they claim", () => {
  test("a 0-byte or non-parquet .parquet file says so, naming it", async () => {
    const zero = path.join(work, "zero.parquet");
    fs.writeFileSync(zero, "");
    await expect(openInput({ input: zero })).rejects.toThrow(
      `cannot read parquet input ${zero}: not a parquet file (no PAR1 magic bytes, 0 bytes)`,
    );
    const csvInDisguise = path.join(work, "disguised.parquet");
    fs.copyFileSync(path.join(work, "a.csv"), csvInDisguise);
    await expect(openInput({ input: csvInDisguise })).rejects.toThrow(
      "not a parquet file (no PAR1 magic bytes",
    );
  });

  test("a parquet file without rows is an error, not an empty run", async () => {
    const empty = writeParquet(path.join(work, "empty.parquet"), {
      URL: { data: [], type: "STRING" },
      TEXT: { data: [], type: "STRING" },
    });
    await expect(openInput({ input: empty })).rejects.toThrow(`no rows: ${empty} has 0 rows`);
  });

  test("a URL column of numbers is named with its type and the flag", async () => {
    const numbers = writeParquet(path.join(work, "numbers.parquet"), {
      URL: { data: [1n, 2n], type: "INT64" },
      TEXT: { data: ["a", "b"], type: "STRING" },
    });
    await expect(openInput({ input: numbers })).rejects.toThrow(
      `column "URL" of input file ${numbers} holds INT64 values, not text; choose another with --url-col`,
    );
  });
});
