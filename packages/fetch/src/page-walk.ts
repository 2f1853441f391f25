import type { AsyncBuffer, PageHeader } from "hyparquet";
import { parquetHeader } from "hyparquet/src/column.js";

/**
 * Bytes fetched at a time while walking a column chunk: 256 KiB first (an early stop fetches little),
 * doubling up to 1 MiB (a full scan of a remote file makes ~1 request a MiB); one page may need more.
 */
const FIRST_WINDOW = 256 << 10;
const MAX_WINDOW = 1 << 20;

/**
 * The pages of a column chunk in order, found by their headers, for files without an offset index:
 * the chunk is fetched in windows of 256 KiB to 1 MiB (or one page, if larger), so neither it nor its
 * decoded values are ever held whole.
 */
export class PageWalk {
  private pos: number;
  private window = { start: 0, bytes: new Uint8Array(0) };
  private windowSize = FIRST_WINDOW;

  constructor(
    private readonly file: AsyncBuffer,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  /** The next page, header included, or undefined at the end of the chunk. */
  async next(): Promise<{ header: PageHeader; bytes: Uint8Array } | undefined> {
    if (this.pos >= this.end) return undefined;
    let want = FIRST_WINDOW;
    for (;;) {
      const head = await this.bytesAt(this.pos, want);
      const reader = { view: new DataView(head.buffer, head.byteOffset, head.byteLength), offset: 0 };
      let header: PageHeader;
      try {
        header = parquetHeader(reader);
      } catch (err) {
        // a header longer than the bytes at hand (page statistics of long strings): fetch more
        if (!(err instanceof RangeError) || head.length >= this.end - this.pos) throw err;
        want *= 2;
        continue;
      }
      const size = reader.offset + header.compressed_page_size;
      const bytes = await this.bytesAt(this.pos, size);
      if (bytes.length < size) throw new Error(`page at byte ${this.pos} runs past its column chunk's end`);
      this.pos += size;
      return { header, bytes };
    }
  }

  /**
   * `length` bytes from `from` (fewer at the chunk's end), from the window or a new one starting there;
   * the new one keeps what the old one held past `from` (a page that ran over the window's end).
   */
  private async bytesAt(from: number, length: number): Promise<Uint8Array> {
    const end = Math.min(this.end, from + length);
    const w = this.window;
    const held = w.start + w.bytes.length;
    if (from < w.start || end > held) {
      const fetchEnd = Math.min(this.end, Math.max(end, from + this.windowSize));
      const keep = from >= w.start && from < held ? held - from : 0;
      const bytes = new Uint8Array(fetchEnd - from);
      if (keep > 0) bytes.set(w.bytes.subarray(from - w.start), 0);
      bytes.set(new Uint8Array(await this.file.slice(from + keep, fetchEnd)), keep);
      this.window = { start: from, bytes };
      this.windowSize = Math.min(2 * this.windowSize, MAX_WINDOW);
    }
    return this.window.bytes.subarray(from - this.window.start, end - this.window.start);
  }
}
