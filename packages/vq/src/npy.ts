// NumPy's .npy format (version 1.0) for integer code grids, byte-identical to `numpy.save` (checked against
// files numpy 2.4 wrote, fixtures/npy/). Hand-written because the one npm reader (npyjs) cannot write and
// pulls in a fetch polyfill; the format is a fixed 10-byte preamble + a Python-literal header + raw data.

/** Integer dtypes a code grid may use: numpy's `descr` strings. */
export type NpyIntDtype = "|u1" | "|i1" | "<u2" | "<i2" | "<u4" | "<i4";

export interface NpyArray {
  dtype: NpyIntDtype;
  shape: number[];
  /** Values in C (row-major) order. */
  data: Int32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** numpy ≥ 1.? pads the preamble + header to a multiple of 64 bytes (aligned data for mmap). */
const ALIGN = 64;

const RANGES: Record<NpyIntDtype, [min: number, max: number, bytes: number]> = {
  "|u1": [0, 0xff, 1],
  "|i1": [-0x80, 0x7f, 1],
  "<u2": [0, 0xffff, 2],
  "<i2": [-0x8000, 0x7fff, 2],
  "<u4": [0, 0xffffffff, 4],
  "<i4": [-0x80000000, 0x7fffffff, 4],
};

/** The smallest unsigned dtype holding codes in [0, codebookSize): `<u2` for every codebook up to 65,536. */
export function codeDtype(codebookSize: number): NpyIntDtype {
  if (codebookSize <= 0x100) return "|u1";
  if (codebookSize <= 0x10000) return "<u2";
  return "<i4";
}

function headerText(dtype: NpyIntDtype, shape: readonly number[]): string {
  // Python's tuple repr: (n,) for one dimension, () for a scalar.
  const tuple = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${tuple}, }`;
  const unpadded = MAGIC.length + 4 + dict.length + 1; // + "\n"
  return `${dict}${" ".repeat((ALIGN - (unpadded % ALIGN)) % ALIGN)}\n`;
}

/** Encodes an integer array as .npy bytes (C order), refusing values the dtype cannot hold. */
export function encodeNpy(array: { dtype: NpyIntDtype; shape: readonly number[]; data: ArrayLike<number> }) {
  const { dtype, shape, data } = array;
  const range = RANGES[dtype];
  if (!range) throw new Error(`encodeNpy: unsupported dtype ${JSON.stringify(dtype)}`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count)
    throw new Error(`encodeNpy: shape (${shape.join(", ")}) needs ${count} values, got ${data.length}`);
  const header = headerText(dtype, shape);
  const [min, max, bytes] = range;
  const out = new Uint8Array(MAGIC.length + 4 + header.length + count * bytes);
  out.set(MAGIC, 0);
  out[6] = 1; // version 1.0
  out[7] = 0;
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  let at = 10 + header.length;
  for (let i = 0; i < count; i++, at += bytes) {
    const v = data[i] as number;
    if (!Number.isInteger(v) || v < min || v > max)
      throw new Error(`encodeNpy: value ${v} at index ${i} does not fit ${dtype}`);
    if (bytes === 1) out[at] = v & 0xff;
    else if (bytes === 2) view.setUint16(at, v & 0xffff, true);
    else if (min < 0) view.setInt32(at, v, true);
    else view.setUint32(at, v, true);
  }
  return out;
}

function parseHeader(text: string, where: string) {
  const descr = /'descr':\s*'([^']*)'/.exec(text)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new Error(`${where}: malformed .npy header ${JSON.stringify(text.trim())}`);
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0))
    throw new Error(`${where}: bad .npy shape (${shapeText})`);
  return { descr, fortran: fortran === "True", shape };
}

/**
 * Decodes a .npy file of integers (version 1.x–3.x header, any byte order) into an Int32Array in C order.
 * Errors name `where` (e.g. the shard and member) and what was found: floats, Fortran order, truncation.
 */
export function decodeNpy(bytes: Uint8Array, where = "npy"): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    throw new Error(`${where}: not a .npy file (no \\x93NUMPY magic)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6] as number;
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLength > bytes.length) throw new Error(`${where}: truncated .npy header`);
  const header = new TextDecoder("latin1").decode(bytes.subarray(start, start + headerLength));
  const { descr, fortran, shape } = parseHeader(header, where);
  const m = /^([<>|=])([ui])([124])$/.exec(descr);
  if (!m) throw new Error(`${where}: .npy dtype ${descr} is not an integer type (codes must be integers)`);
  const size = Number(m[3]);
  const unsigned = m[2] === "u";
  const little = m[1] !== ">";
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLength;
  if (bytes.length - dataStart < count * size)
    throw new Error(
      `${where}: truncated .npy data: shape (${shape.join(", ")}) needs ${count * size} bytes, found ${bytes.length - dataStart}`,
    );
  if (fortran && shape.length > 1)
    throw new Error(`${where}: Fortran-order .npy arrays are not supported (save with C order)`);
  const data = new Int32Array(count);
  for (let i = 0, at = dataStart; i < count; i++, at += size) {
    let v: number;
    if (size === 1) v = unsigned ? view.getUint8(at) : view.getInt8(at);
    else if (size === 2) v = unsigned ? view.getUint16(at, little) : view.getInt16(at, little);
    else v = unsigned ? view.getUint32(at, little) : view.getInt32(at, little);
    // a <u4 value above 2^31 cannot be a code: fail rather than wrap it into a negative int32
    if (v > 0x7fffffff) throw new Error(`${where}: value ${v} at index ${i} exceeds the int32 range`);
    data[i] = v;
  }
  const dtype = `${size === 1 ? "|" : "<"}${m[2]}${size}` as NpyIntDtype;
  return { dtype, shape, data };
}
