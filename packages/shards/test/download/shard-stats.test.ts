import fs from "node:fs";
import path from "node:path";
import { expect, test } from "vitest";
import {
  isShardComplete,
  localFolderStorage,
  readShardStats,
  shardOfFile,
  writeShardStats,
} from "../../src/download/index.js";
import { TarWriter } from "../../src/write/tar-writer.js";
import { tempDir } from "./helpers.js";

test("one _stats.json writer and reader for every kind of shard: written last, read only when finished", async () => {
  const dir = tempDir("shard-stats");
  const storage = localFolderStorage(dir);
  const tar = await TarWriter.open({ storage, name: "00003.tar" });
  await tar.write({ __key__: "000030000", txt: "a caption" });
  await tar.close();
  // a tar without its stats is not finished: nothing to read
  expect(await readShardStats(storage, "00003")).toBeUndefined();
  const stats = { count: 1, successes: 1, status_dict: { success: 1 }, vq: { id: "abc" } };
  await writeShardStats(storage, "00003", stats);
  expect(await isShardComplete(storage, "00003")).toBe(true);
  expect(await readShardStats(storage, "00003")).toEqual(stats);
  // img2dataset's format: 4-space JSON ending in a newline
  expect(fs.readFileSync(path.join(dir, "00003_stats.json"), "utf8")).toBe(
    `${JSON.stringify(stats, null, 4)}\n`,
  );

  fs.writeFileSync(path.join(dir, "00003_stats.json"), "{ not json");
  await expect(readShardStats(storage, "00003")).rejects.toThrow(`${dir}/00003_stats.json`);
});

test("shardOfFile names the shard of each file of the layout, and nothing else", () => {
  expect(shardOfFile("00001.tar")).toBe("00001");
  expect(shardOfFile("00001.parquet")).toBe("00001");
  expect(shardOfFile("00001_stats.json")).toBe("00001");
  expect(shardOfFile("part.v2.tar")).toBe("part.v2");
  expect(shardOfFile("stats.json")).toBeUndefined();
  expect(shardOfFile("00001.tar.gz")).toBeUndefined();
});
