import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect, test } from "vitest";
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors } from "../src/index.js";

test("safetensors: byte layout is the real format (u64 LE header length, JSON header, raw LE data)", () => {
  const bytes = encodeSafetensors(
    {
      b: { dtype: "I32", shape: [2], data: Int32Array.from([7, -1]) },
      a: { dtype: "F32", shape: [1, 2], data: Float32Array.from([1.5, -2]) },
    },
    { note: "hi" },
  );
  const view = new DataView(bytes.buffer);
  const n = Number(view.getBigUint64(0, true));
  expect(n % 8).toBe(0);
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString());
  expect(header).toEqual({
    __metadata__: { note: "hi" },
    a: { dtype: "F32", shape: [1, 2], data_offsets: [0, 8] },
    b: { dtype: "I32", shape: [2], data_offsets: [8, 16] },
  });
  const data = new DataView(bytes.buffer, 8 + n);
  expect(data.getFloat32(0, true)).toBe(1.5);
  expect(data.getInt32(12, true)).toBe(-1);
});

test("safetensors: save → load round trip, atomically written", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "vq-st-"));
  const file = path.join(dir, "x.safetensors");
  await saveSafetensors(
    file,
    { w: { dtype: "F32", shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) } },
    { step: "3" },
  );
  const { tensors, metadata } = await loadSafetensors(file);
  expect(metadata).toEqual({ step: "3" });
  expect(tensors.w?.shape).toEqual([2, 3]);
  expect(Array.from(tensors.w?.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
});

test("safetensors: a truncated or foreign file gives an error naming it", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "vq-st-"));
  const file = path.join(dir, "bad.pt");
  await saveSafetensors(file, { w: { dtype: "F32", shape: [4], data: new Float32Array(4) } });
  const full = await readFile(file);
  await writeFile(file, full.subarray(0, full.length - 4));
  await expect(loadSafetensors(file)).rejects.toThrow(/bad\.pt: tensor "w" .*bad data_offsets/);
  expect(() =>
    decodeSafetensors(new TextEncoder().encode("PK\u0003\u0004 a zip, not safetensors"), "model.pt"),
  ).toThrow(/model\.pt: not a safetensors file/);
});

test("safetensors: the header is padded to 8 bytes (not characters) when metadata is non-ASCII", () => {
  const caption = "ශ්‍රී ලංකාව"; // Sinhala: 3 bytes per character in UTF-8
  const bytes = encodeSafetensors(
    { x: { dtype: "F32", shape: [1], data: Float32Array.from([3]) } },
    { caption },
  );
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  expect(n % 8).toBe(0);
  expect((8 + n) % 8).toBe(0);
  const back = decodeSafetensors(bytes);
  expect(back.metadata.caption).toBe(caption);
  expect(Array.from(back.tensors.x?.data as Float32Array)).toEqual([3]);
});

test("safetensors: files from trainer-2b's former codec (padded by characters) still load", () => {
  // that codec wrote `__metadata__` first, then the sorted names, and padded the JSON by its length in
  // characters: with non-ASCII metadata the data then starts off an 8-byte boundary
  let json = JSON.stringify({
    __metadata__: { note: "සිංහල" },
    w: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
  });
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const head = Buffer.from(json, "utf8");
  expect(head.length % 8).not.toBe(0);
  const file = new Uint8Array(8 + head.length + 8);
  new DataView(file.buffer).setBigUint64(0, BigInt(head.length), true);
  file.set(head, 8);
  new DataView(file.buffer, 8 + head.length).setFloat32(0, 1.25, true);
  new DataView(file.buffer, 8 + head.length).setFloat32(4, -2, true);
  const { tensors, metadata } = decodeSafetensors(file, "old.safetensors");
  expect(metadata.note).toBe("සිංහල");
  expect(Array.from(tensors.w?.data as Float32Array)).toEqual([1.25, -2]);
});

test("safetensors: decoding a Node Buffer (readFileSync) copies the tensor bytes, not the pool", () => {
  const bytes = encodeSafetensors({ w: { dtype: "F32", shape: [3], data: Float32Array.from([1, 2, 3]) } });
  // a Buffer that sits at an offset inside a larger ArrayBuffer, as small readFileSync results do
  const pool = Buffer.alloc(bytes.length + 13);
  pool.set(bytes, 13);
  const { tensors } = decodeSafetensors(pool.subarray(13));
  expect(Array.from(tensors.w?.data as Float32Array)).toEqual([1, 2, 3]);
});
