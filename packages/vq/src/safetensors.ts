import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "@laion/cli-kit";

/** The safetensors dtypes we read and write (the format's own names). */
export type SafetensorsDtype = "F32" | "F64" | "I32" | "I64" | "U8" | "I8" | "I16" | "U16" | "U32";
export type TensorData =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Int8Array
  | Int16Array
  | Uint16Array
  | Uint32Array;

export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

const ARRAYS = {
  F32: Float32Array,
  F64: Float64Array,
  I32: Int32Array,
  I64: BigInt64Array,
  U8: Uint8Array,
  I8: Int8Array,
  I16: Int16Array,
  U16: Uint16Array,
  U32: Uint32Array,
} as const;

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Serialise tensors in the safetensors format: u64 little-endian header length, a JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__: { string: string } }` padded with
 * spaces to 8 bytes, then the raw little-endian data in header order.
 */
export function encodeSafetensors(
  tensors: Record<string, SafeTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string")
        throw new Error(`safetensors metadata "${k}" must be a string, got ${typeof v}`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const names = Object.keys(tensors).sort();
  for (const name of names) {
    const t = tensors[name] as SafeTensor;
    const ctor = ARRAYS[t.dtype];
    if (!ctor) throw new Error(`tensor "${name}": unsupported dtype ${t.dtype}`);
    if (!(t.data instanceof ctor)) throw new Error(`tensor "${name}": dtype ${t.dtype} needs a ${ctor.name}`);
    if (t.data.length !== elementCount(t.shape)) {
      throw new Error(
        `tensor "${name}": shape [${t.shape}] needs ${elementCount(t.shape)} values, got ${t.data.length}`,
      );
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  const jsonBytes = Buffer.byteLength(json);
  json += " ".repeat((8 - (jsonBytes % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const d = (tensors[name] as SafeTensor).data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}

/** Parse a safetensors buffer; `source` names the file in errors. */
export function decodeSafetensors(
  bytes: Uint8Array,
  source = "safetensors data",
): { tensors: Record<string, SafeTensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new Error(`${source}: not a safetensors file (only ${bytes.length} bytes)`);
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > bytes.length - 8 || headerLen > 100_000_000) {
    throw new Error(
      `${source}: not a safetensors file (header length ${headerLen} exceeds the file size ${bytes.length})`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, headerLen).toString("utf8"));
  } catch (err) {
    throw new Error(`${source}: not a safetensors file (header is not JSON: ${(err as Error).message})`);
  }
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const tensors: Record<string, SafeTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === "__metadata__") {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets } = entry as {
      dtype: SafetensorsDtype;
      shape: number[];
      data_offsets: [number, number];
    };
    const ctor = ARRAYS[dtype];
    if (!ctor) throw new Error(`${source}: tensor "${name}" has unsupported dtype ${dtype}`);
    const [begin, end] = data_offsets;
    const nbytes = elementCount(shape) * ctor.BYTES_PER_ELEMENT;
    if (!(begin >= 0 && end <= dataLen && end - begin === nbytes)) {
      throw new Error(
        `${source}: tensor "${name}" [${shape}] ${dtype} has bad data_offsets [${begin}, ${end}] (data is ${dataLen} bytes)`,
      );
    }
    // copy: the source offset is not necessarily aligned for the typed array (and a Buffer's slice()
    // would be a view into its pool, not a copy)
    const copy = new Uint8Array(bytes.subarray(dataStart + begin, dataStart + end));
    tensors[name] = { dtype, shape, data: new ctor(copy.buffer, 0, elementCount(shape)) as TensorData };
  }
  return { tensors, metadata };
}

/** Save tensors (+ string metadata) as a safetensors file, atomically. */
export async function saveSafetensors(
  path: string,
  tensors: Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Load a whole safetensors file. */
export async function loadSafetensors(
  path: string,
): Promise<{ tensors: Record<string, SafeTensor>; metadata: Record<string, string> }> {
  const bytes = await readFile(path);
  return decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}
