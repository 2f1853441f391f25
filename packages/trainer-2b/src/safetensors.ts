// Minimal safetensors (https://huggingface.co/docs/safetensors): 8-byte little-endian header
// length, a JSON header { name: { dtype, shape, data_offsets } , __metadata__ }, then raw data.
// Only what checkpoints need: F32 and I32, read back as typed arrays.
import fs from "node:fs";

export interface RawTensor {
  dtype: "F32" | "I32";
  shape: number[];
  data: Float32Array | Int32Array;
}

export function writeSafetensors(
  file: string,
  tensors: Record<string, RawTensor>,
  metadata?: Record<string, string>,
) {
  const header: Record<string, unknown> = {};
  if (metadata) header["__metadata__"] = metadata;
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name]!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8); // align data to 8 bytes
  const head = Buffer.from(json, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  const fd = fs.openSync(file, "w");
  try {
    fs.writeSync(fd, len);
    fs.writeSync(fd, head);
    for (const name of names) {
      const d = tensors[name]!.data;
      fs.writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function readSafetensors(file: string): {
  tensors: Record<string, RawTensor>;
  metadata: Record<string, string>;
} {
  const buf = fs.readFileSync(file);
  if (buf.length < 8) throw new Error(`${file}: not a safetensors file (too short)`);
  const n = Number(buf.readBigUInt64LE(0));
  if (n > buf.length - 8) throw new Error(`${file}: truncated safetensors header`);
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8"));
  const base = 8 + n;
  const tensors: Record<string, RawTensor> = {};
  for (const [name, info] of Object.entries<{
    dtype: string;
    shape: number[];
    data_offsets: [number, number];
  }>(header)) {
    if (name === "__metadata__") continue;
    const [a, b] = info.data_offsets;
    if (base + b > buf.length)
      throw new Error(`${file}: tensor ${name} runs past the end of the file (truncated)`);
    const bytes = new Uint8Array(b - a);
    bytes.set(buf.subarray(base + a, base + b));
    if (info.dtype === "F32")
      tensors[name] = { dtype: "F32", shape: info.shape, data: new Float32Array(bytes.buffer) };
    else if (info.dtype === "I32")
      tensors[name] = { dtype: "I32", shape: info.shape, data: new Int32Array(bytes.buffer) };
    else throw new Error(`${file}: tensor ${name} has dtype ${info.dtype}; only F32 and I32 are supported`);
  }
  return { tensors, metadata: header["__metadata__"] ?? {} };
}
