// The hand-off between tar-stream's event callbacks (the producer, parsing) and tarMembers' generator
// (the consumer): parsed members wait here, and parsing pauses while too many wait, so memory stays
// bounded and the source is read only as fast as members are taken.
import type { Header as EntryHeader, Extract, ExtractEvents } from "tar-stream";
import { ShardError } from "./errors.js";

const MAX_AHEAD_BYTES = 16 << 20;

/** One regular file of a tar archive, read whole. */
export interface TarMember {
  /** Path inside the archive (pax and GNU long names resolved); a trailing `.gz` is removed when the member was gunzipped. */
  name: string;
  data: Uint8Array;
}

/** An entry's body stream (streamx's Readable, as tar-stream hands it over). */
type EntryStream = ExtractEvents["entry"][1];

export interface MemberQueueParams {
  url: string;
  extract: Extract;
  /** Members parsed ahead of the consumer (and at most 16 MiB of them). */
  maxAhead: number;
  /** Larger members are drained, never held, and reported as a ShardError in their place. */
  maxMember: number;
  /** Copy member bytes into their own buffers (see tarMembers' `copy`). */
  copy: boolean;
}

/** Parsed members (or the skip errors of oversized ones, in order) waiting for the consumer. */
export class MemberQueue {
  private readonly items: (TarMember | ShardError)[] = [];
  private bytes = 0;
  /** tar-stream waits for this before parsing on. */
  private heldNext: (() => void) | null = null;
  private inEntry = false;
  private finished = false;
  private member: string | undefined;
  private previous: string | undefined;
  private failure: ShardError | undefined;
  private wake: (() => void) | null = null;

  constructor(private readonly params: MemberQueueParams) {
    const { extract } = params;
    extract.on("entry", (header, entry, next) => this.onEntry(header, entry, next));
    extract.on("finish", () => {
      this.finished = true;
      this.notify();
    });
    extract.on("error", (error: Error) => {
      if (this.failure) return;
      if (/unexpected end of data/i.test(error.message))
        this.fail("truncated tar (unexpected end of data)", error);
      else this.fail(error.message.replace(/\.?$/, ""), error);
    });
  }

  /** Ends the shard with a ShardError naming the member being read (or the one before it). */
  readonly fail = (message: string, cause: unknown): void => {
    if (!this.failure) {
      const { member, previous } = this;
      const after = member === undefined && previous !== undefined ? ` after member ${previous}` : "";
      this.failure = new ShardError({ url: this.params.url, member, message: message + after, cause });
    }
    this.params.extract.destroy(this.failure);
    this.notify();
  };

  /**
   * The next member (or skip error) in archive order; null at the end. Members complete before a
   * failure are delivered first, then the failure is thrown.
   */
  async next(): Promise<TarMember | ShardError | null> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        if (!(item instanceof ShardError)) this.bytes -= item.data.length;
        this.resumeParsing();
        return item;
      }
      if (this.failure) throw this.failure;
      if (this.finished && !this.inEntry) return null;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private roomAhead(): boolean {
    return this.items.length < this.params.maxAhead && this.bytes < MAX_AHEAD_BYTES;
  }

  private resumeParsing(): void {
    if (!this.heldNext || !this.roomAhead()) return;
    const resume = this.heldNext;
    this.heldNext = null;
    resume();
  }

  private onEntry(header: EntryHeader, entry: EntryStream, next: () => void): void {
    this.inEntry = true;
    this.member = header.name;
    const regular = header.type === "file" || header.type === "contiguous-file";
    // The header's size is what the parser will read for this entry, so checking it first means
    // an oversized member is drained, never held.
    const oversize = regular && (header.size ?? 0) > this.params.maxMember;
    const chunks: Buffer[] = [];
    let size = 0;
    // An entry stream is destroyed with the extractor's error, which is reported once, by `fail`.
    entry.on("error", () => {});
    entry.on("data", (data: unknown) => {
      if (oversize || !regular) return;
      const chunk = data as Buffer;
      chunks.push(chunk);
      size += chunk.length;
    });
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (oversize) this.items.push(this.oversized(header));
      else if (regular) this.push(header.name, chunks, size);
      this.endEntry(next);
    };
    entry.on("end", end);
    // tar-stream reads no body for a directory, but a directory header that claims a size gets an entry
    // stream that never ends (found by the fuzz suite): a directory is over as soon as it starts.
    if (header.type === "directory") end();
  }

  private oversized(header: EntryHeader): ShardError {
    return new ShardError({
      url: this.params.url,
      member: header.name,
      message: `member is ${header.size} bytes, over max-member-bytes (${this.params.maxMember}); skipped`,
    });
  }

  private push(name: string, chunks: readonly Buffer[], size: number): void {
    const data = chunks.length === 1 && !this.params.copy ? (chunks[0] as Buffer) : joined(chunks, size);
    this.items.push({ name, data });
    this.bytes += size;
  }

  /** Parsing goes on at once while there is room ahead; otherwise when the consumer makes room. */
  private endEntry(next: () => void): void {
    this.previous = this.member;
    this.member = undefined;
    this.inEntry = false;
    if (this.roomAhead()) next();
    else this.heldNext = next;
    this.notify();
  }
}

/**
 * The chunks copied into one buffer of exactly `size` bytes. allocUnsafeSlow, not concat: small
 * members would otherwise share Node's 8 KiB pool slabs, and one kept member pins its whole slab.
 */
function joined(chunks: readonly Buffer[], size: number): Buffer {
  const out = Buffer.allocUnsafeSlow(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
