import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { localFolderStorage, type RawSample, TarWriter, WebDataset } from "@laion/shards";
import { fixturePath, runCaptured, startS3Server } from "@laion/test-servers";
import { beforeAll, describe, expect, test } from "vitest";
import { resolveConfig } from "../src/config.js";
import { encodeVqCodesCli } from "../src/encode-command.js";
import {
  CODES_EXT,
  type CodeShardSample,
  codeShardsStatus,
  decodeNpy,
  type EncodeVqCodesParams,
  encodeVqCodes,
  isCodeSample,
  loadVQ,
  readCodeSample,
  saveVQ,
  selectBackend,
  vqCheckpointIdentity,
} from "../src/index.js";
import { VQ } from "../src/vq-model.js";
import { small } from "./helpers.js";

// Image shards as img2dataset writes them ({key}.jpg + .json + .txt), made from the real photos and Sinhala
// captions of fixtures/explicit_media, plus webdataset's own sample.tgz (90 PNG digits with .cls, no caption).
interface Member {
  name: string;
  body: Uint8Array;
}

/** Writes members `{key}.{ext}` as one webdataset tar with @laion/shards' TarWriter (samples grouped by key). */
async function writeTar(file: string, members: Member[]): Promise<void> {
  const tar = await TarWriter.open({
    storage: localFolderStorage(path.dirname(file)),
    name: path.basename(file),
  });
  const samples = new Map<string, Record<string, Uint8Array>>();
  for (const m of members) {
    const dot = m.name.indexOf(".");
    const key = m.name.slice(0, dot);
    samples.set(key, { ...samples.get(key), [m.name.slice(dot + 1)]: m.body });
  }
  for (const [key, exts] of samples) await tar.write({ __key__: key, ...exts });
  await tar.close();
}

interface Photo {
  key: string;
  caption: string;
  jpg: Uint8Array;
}

let dir: string;
let ckpt: string;
let photos: Photo[];
let imageShards: string;

beforeAll(async () => {
  await selectBackend({ prefer: "wasm" });
  dir = await mkdtemp(path.join(tmpdir(), "vq-encode-"));
  ckpt = path.join(dir, "vq.pt");
  const model = VQ.create(resolveConfig(small), 3);
  await saveVQ(model, ckpt);
  model.dispose();
  const captions = JSON.parse(await readFile(fixturePath("explicit_media/captions.json"), "utf8")) as {
    image: string;
    caption: string;
  }[];
  photos = await Promise.all(
    captions.slice(0, 10).map(async (c, i) => ({
      key: `0000${String(i).padStart(4, "0")}`,
      caption: c.caption,
      jpg: new Uint8Array(await readFile(fixturePath(`explicit_media/${c.image}`))),
    })),
  );
  imageShards = path.join(dir, "images");
  await mkdir(imageShards);
  const members = (ps: Photo[]) =>
    ps.flatMap((p) => [
      { name: `${p.key}.jpg`, body: p.jpg },
      {
        name: `${p.key}.json`,
        body: Buffer.from(JSON.stringify({ key: p.key, url: `http://x/${p.key}.jpg` })),
      },
      { name: `${p.key}.txt`, body: Buffer.from(p.caption) },
    ]);
  await writeTar(path.join(imageShards, "00000.tar"), [
    ...members(photos.slice(0, 6)),
    // a sample whose image is corrupt, and a caption-only sample (img2dataset's failed rows)
    { name: "00000090.jpg", body: Buffer.from("not a jpeg at all") },
    { name: "00000090.txt", body: Buffer.from("broken") },
    { name: "00000091.txt", body: Buffer.from("no image") },
  ]);
  await writeTar(path.join(imageShards, "00001.tar"), members(photos.slice(6)));
}, 60_000);

const run = (output: string, extra: Partial<EncodeVqCodesParams> = {}) =>
  encodeVqCodes({ vqCheckpoint: ckpt, input: imageShards, output, batchSize: 4, ...extra });

async function readAll(shards: string) {
  const out: RawSample[] = [];
  for await (const s of WebDataset(shards)) out.push(s);
  return out;
}

/** The sample as a code sample, failing the test when it holds no codes. */
function codeSample(s: RawSample | undefined): CodeShardSample {
  if (!s || !isCodeSample(s)) throw new Error(`${s?.__key__} holds no ${CODES_EXT} member`);
  return s;
}

describe("encodeVqCodes", () => {
  let out: string;
  let result: Awaited<ReturnType<typeof encodeVqCodes>>;
  beforeAll(async () => {
    out = path.join(dir, "codes");
    result = await run(out);
  }, 60_000);

  test("writes one code shard per image shard: json + txt + vq.npy per sample, no image", async () => {
    expect(result.shardsWritten).toBe(2);
    expect(result).toMatchObject({ samples: 12, encoded: 10, failed: 1 });
    const names = (await readdir(out)).sort();
    expect(names).toEqual(["00000.tar", "00000_stats.json", "00001.tar", "00001_stats.json"]);
    const samples = await readAll(path.join(out, "{00000..00001}.tar"));
    expect(samples.map((s) => s.__key__)).toEqual(photos.map((p) => p.key));
    for (const s of samples)
      expect(
        Object.keys(s)
          .filter((k) => !k.startsWith("__"))
          .sort(),
      ).toEqual(["json", "txt", "vq.npy"]);
  });

  test("the codes are the VQ's codes for each image, the captions and metadata are kept", async () => {
    const model = await loadVQ(ckpt);
    const expected = await model.encodeImageBytes(photos.map((p) => p.jpg));
    const samples = await readAll(path.join(out, "{00000..00001}.tar"));
    for (const [i, s] of samples.entries()) {
      const npy = decodeNpy(s["vq.npy"] as Uint8Array);
      expect(npy.shape).toEqual([model.gridSize, model.gridSize]);
      expect(npy.dtype).toBe("|u1"); // codebook of 32
      expect(Array.from(npy.data)).toEqual(Array.from(expected[i] as Int32Array));
      expect(Buffer.from(s.txt as Uint8Array).toString()).toBe(photos[i]?.caption);
      const meta = JSON.parse(Buffer.from(s.json as Uint8Array).toString());
      expect(meta).toMatchObject({
        url: `http://x/${photos[i]?.key}.jpg`,
        vq: {
          id: await model.identityId(),
          checkpoint: "vq.pt",
          grid_size: 4,
          codebook_size: 32,
          image_size: 32,
        },
      });
      expect(readCodeSample(codeSample(s), { ...meta.vq }).codes).toEqual(npy.data);
    }
    model.dispose();
  });

  test("per-shard stats count the corrupt image and the caption-only row", async () => {
    const stats = JSON.parse(await readFile(path.join(out, "00000_stats.json"), "utf8"));
    expect(stats).toMatchObject({ count: 8, successes: 6, failed_to_decode: 1, no_image: 1 });
    expect(Object.keys(stats.status_dict).find((k) => k.startsWith("cannot decode image"))).toBeDefined();
    expect(stats.input).toBe(path.join(imageShards, "00000.tar"));
  });

  test("a rerun skips finished shards and rewrites only an unfinished one", async () => {
    const before = (await stat(path.join(out, "00001.tar"))).mtimeMs;
    await rm(path.join(out, "00000_stats.json")); // as if killed between the tar and its stats
    const again = await run(out);
    expect(again).toMatchObject({ shardsWritten: 1, shardsSkipped: 1 });
    expect((await stat(path.join(out, "00001.tar"))).mtimeMs).toBe(before);
  });

  test("workers split the shards: disjoint and covering", async () => {
    const split = path.join(dir, "split");
    const a = await run(split, { workerIndex: 0, workerCount: 2 });
    expect((await readdir(split)).sort()).toEqual(["00000.tar", "00000_stats.json"]);
    const b = await run(split, { workerIndex: 1, workerCount: 2 });
    expect(a.shardsWritten + b.shardsWritten).toBe(2);
    expect((await readdir(split)).sort()).toEqual([
      "00000.tar",
      "00000_stats.json",
      "00001.tar",
      "00001_stats.json",
    ]);
  });
});

test("an abort mid-shard leaves no partial shard; the rerun gives the uninterrupted output", async () => {
  const out = path.join(dir, "aborted");
  const stop = new AbortController();
  await expect(
    run(out, {
      batchSize: 2,
      signal: stop.signal,
      onProgress: (e) => e.shard === "00000" && e.encoded >= 2 && stop.abort(),
    }),
  ).rejects.toThrow(/encoding .*00000.tar/);
  expect(await readdir(out)).toEqual([]); // the temp file is gone, nothing half-written appears
  await run(out);
  const straight = await readAll(path.join(dir, "codes", "{00000..00001}.tar"));
  const resumed = await readAll(path.join(out, "{00000..00001}.tar"));
  const strip = (ss: Record<string, unknown>[]) => ss.map(({ __url__, ...rest }) => rest);
  expect(strip(resumed)).toEqual(strip(straight));
}, 60_000);

test("a truncated input shard fails naming it, and writes nothing for it", async () => {
  const bad = path.join(dir, "bad");
  await mkdir(bad);
  const whole = await readFile(path.join(imageShards, "00001.tar"));
  await writeFile(path.join(bad, "00007.tar"), whole.subarray(0, 3000));
  const out = path.join(dir, "bad-out");
  await expect(encodeVqCodes({ vqCheckpoint: ckpt, input: bad, output: out })).rejects.toThrow(/00007\.tar/);
  expect(await readdir(out)).toEqual([]);
});

test("encodes webdataset's own sample.tgz (PNG digits, no caption): codes without txt", async () => {
  const out = path.join(dir, "digits");
  const r = await encodeVqCodes({
    vqCheckpoint: ckpt,
    input: fixturePath("webdataset/sample.tgz"),
    output: out,
  });
  expect(r).toMatchObject({ shardsWritten: 1, samples: 90, encoded: 90, failed: 0 });
  const samples = await readAll(path.join(out, "sample.tar"));
  expect(samples).toHaveLength(90);
  expect(samples[0]?.txt).toBeUndefined();
}, 60_000);

test("two input shards with one name are refused before anything is written", async () => {
  const other = path.join(dir, "other");
  await mkdir(other);
  await writeTar(path.join(other, "00000.tar"), []);
  await expect(
    encodeVqCodes({ vqCheckpoint: ckpt, input: [imageShards, other], output: path.join(dir, "dup") }),
  ).rejects.toThrow(/00000.tar and .*00000.tar would both be written as 00000.tar/);
});

test("readCodeSample refuses codes from another VQ, naming both", async () => {
  const other = VQ.create(resolveConfig(small), 4);
  const samples = await readAll(path.join(dir, "codes", "00001.tar"));
  const loaded = await loadVQ(ckpt);
  const ours = await loaded.identityId();
  loaded.dispose();
  const theirs = await other.identityId();
  expect(theirs).not.toBe(ours);
  expect(() =>
    readCodeSample(codeSample(samples[0]), { id: theirs, checkpoint: "other.pt", grid_size: 4 }),
  ).toThrow(
    new RegExp(`00001.tar: 00000006 was encoded by VQ vq.pt \\(${ours}\\) but --vq-checkpoint is other.pt`),
  );
  other.dispose();
});

test("the CLI needs its three flags and names a missing one", async () => {
  const r = await runCaptured(encodeVqCodesCli, ["--input", "x", "--output", "y"]);
  expect(r.code).toBe(1);
  expect(r.err).toMatch(/required option '--vq-checkpoint <file>' not specified/);
});

test("status: missing → partial → complete; another VQ's checkpoint makes it changed and the encoder refuses", async () => {
  const out = path.join(dir, "status");
  const status = (vqCheckpoint = ckpt) => codeShardsStatus({ vqCheckpoint, input: imageShards, output: out });
  expect(await status()).toMatchObject({ state: "missing", done: 0, total: 2 });
  await run(out, { workerIndex: 1, workerCount: 2 });
  expect(await status()).toMatchObject({ state: "partial", done: 1, total: 2 });
  await run(out);
  expect(await status()).toMatchObject({ state: "complete", done: 2, total: 2 });

  const otherCkpt = path.join(dir, "other-vq.pt");
  const other = VQ.create(resolveConfig(small), 9);
  await saveVQ(other, otherCkpt);
  other.dispose();
  expect(await status(otherCkpt)).toMatchObject({ state: "changed" });
  expect((await status(otherCkpt)).detail).toMatch(
    /was encoded by VQ vq.pt .* the checkpoint is now other-vq.pt/,
  );
  await expect(encodeVqCodes({ vqCheckpoint: otherCkpt, input: imageShards, output: out })).rejects.toThrow(
    /00000.tar was encoded by VQ vq.pt \(sha256:[0-9a-f]{16}\) but --vq-checkpoint is other-vq.pt/,
  );
}, 60_000);

test("the identity read from the file equals the loaded model's, and re-saving keeps it", async () => {
  const model = await loadVQ(ckpt);
  const again = path.join(dir, "resaved.pt");
  await saveVQ(model, again, { step: 123 });
  expect((await vqCheckpointIdentity(ckpt)).id).toBe(await model.identityId());
  expect((await vqCheckpointIdentity(again)).id).toBe(await model.identityId());
  expect(await vqCheckpointIdentity(ckpt)).toMatchObject({
    checkpoint: "vq.pt",
    grid_size: 4,
    codebook_size: 32,
  });
  model.dispose();
});

test("--output s3://bucket/prefix: the same code shards as a local run, status and rerun read them there", async () => {
  const s3 = await startS3Server({ buckets: ["codes"] });
  try {
    const remote = {
      s3Endpoint: s3.endpoint,
      s3: {
        region: s3.region,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      },
    };
    const output = "s3://codes/run/vq";
    const first = await encodeVqCodes({ vqCheckpoint: ckpt, input: imageShards, output, ...remote });
    expect(first).toMatchObject({ shardsWritten: 2, encoded: 10 });
    expect(
      await codeShardsStatus({ vqCheckpoint: ckpt, input: imageShards, output, ...remote }),
    ).toMatchObject({
      state: "complete",
      done: 2,
    });
    expect(await encodeVqCodes({ vqCheckpoint: ckpt, input: imageShards, output, ...remote })).toMatchObject({
      shardsWritten: 0,
      shardsSkipped: 2,
    });
    const fromS3: Record<string, unknown>[] = [];
    for await (const s of WebDataset(`${output}/{00000..00001}.tar`, {
      s3Endpoint: s3.endpoint,
      s3: remote.s3,
    }))
      fromS3.push(s);
    const local = await readAll(path.join(dir, "codes", "{00000..00001}.tar"));
    const strip = (ss: Record<string, unknown>[]) => ss.map(({ __url__, ...rest }) => rest);
    expect(strip(fromS3)).toEqual(strip(local));
  } finally {
    await s3.close();
  }
}, 60_000);
