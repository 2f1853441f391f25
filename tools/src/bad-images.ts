import fs from "node:fs";
import zlib from "node:zlib";

/*
 * Images that are broken on purpose, built once per process and cached:
 * - a decompression bomb: a valid PNG whose header says hugeDims × hugeDims pixels but whose file is
 *   tiny, because every pixel is black and a 1-bit grayscale row of zeros deflates ~1000:1;
 * - a corrupt JPEG: a real photo whose entropy-coded data is overwritten and cut short, so the header
 *   (and sharp's metadata) still reads but decoding fails.
 */

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, "ascii");
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** Deflates `rows` identical zero rows of `rowBytes` bytes without ever holding the raw image in memory. */
async function deflateZeroRows(rows: number, rowBytes: number): Promise<Buffer> {
  const deflate = zlib.createDeflate({ level: 9 });
  const out: Buffer[] = [];
  deflate.on("data", (c: Buffer) => out.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    deflate.on("end", resolve);
    deflate.on("error", reject);
  });
  const rowsPerChunk = Math.max(1, Math.floor((1 << 20) / rowBytes));
  const chunk = Buffer.alloc(rowsPerChunk * rowBytes);
  for (let done = 0; done < rows; done += rowsPerChunk) {
    const n = Math.min(rowsPerChunk, rows - done);
    if (!deflate.write(chunk.subarray(0, n * rowBytes))) {
      await new Promise((resolve) => deflate.once("drain", resolve));
    }
  }
  deflate.end();
  await ended;
  return Buffer.concat(out);
}

/** A valid black 1-bit grayscale PNG of `dims` × `dims` pixels (30000 → ~110 kB file, 900 Mpx). */
export async function buildHugePng(dims: number): Promise<Buffer> {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(dims, 0);
  ihdr.writeUInt32BE(dims, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // colour type: grayscale
  // compression, filter, interlace: 0
  const rowBytes = 1 + Math.ceil(dims / 8); // filter byte 0 + packed pixels, all zero
  const idat = await deflateZeroRows(dims, rowBytes);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("IDAT", idat),
    pngChunk("IEND", Buffer.alloc(0)),
  ]);
}

const hugeCache = new Map<number, Promise<Buffer>>();

/** Cached per process: building the 30000 px bomb deflates ~110 MB of zeros (a fraction of a second). */
export function hugePng(dims: number): Promise<Buffer> {
  let p = hugeCache.get(dims);
  if (!p) {
    p = buildHugePng(dims);
    hugeCache.set(dims, p);
  }
  return p;
}

/** Offset of the first byte after the JPEG start-of-scan header, or -1. */
function scanDataOffset(jpeg: Buffer): number {
  let i = 2;
  while (i + 4 <= jpeg.length) {
    if (jpeg[i] !== 0xff) return -1;
    const marker = jpeg[i + 1]!;
    const len = jpeg.readUInt16BE(i + 2);
    if (marker === 0xda) return i + 2 + len;
    i += 2 + len;
  }
  return -1;
}

const corruptCache = new Map<string, Buffer>();

/**
 * The JPEG at `file` with the second quarter of its entropy-coded data replaced by 0xFF 0x00 noise and the
 * last half dropped (no EOI marker): headers intact, pixels undecodable. Non-JPEG input is cut in half.
 */
export function corruptJpeg(file: string): Buffer {
  let out = corruptCache.get(file);
  if (out) return out;
  const src = fs.readFileSync(file);
  const scan = scanDataOffset(src);
  if (scan < 0) {
    out = src.subarray(0, Math.floor(src.length / 2));
  } else {
    const dataLen = src.length - scan;
    const cut = scan + Math.floor(dataLen / 2);
    out = Buffer.from(src.subarray(0, cut));
    const from = scan + Math.floor(dataLen / 4);
    // 0xFF followed by a reserved marker byte: libjpeg reports corrupt data, libvips fails the decode
    for (let i = from; i < cut - 1; i += 2) {
      out[i] = 0xff;
      out[i + 1] = 0xd0 + ((i >> 1) % 3);
    }
  }
  corruptCache.set(file, out);
  return out;
}
