import fs from "node:fs";
import type { RowGroup } from "hyparquet";
import { ParquetWriter } from "hyparquet-writer";

/**
 * hyparquet-writer's `ParquetWriter` keeps every written row group's metadata as JS objects until
 * `finish()` writes the footer: ~7 KB per group of 8 LAION columns (≈80 objects and bigints), i.e.
 * ~3 MB per million rows written at 2,500 rows a group and ~560 MB for one 200M-row output, and
 * `finish()` then builds the footer's thrift objects for all of them at once. This writer moves each
 * group's metadata out of memory as soon as the group is written: its *shape* (field names, strings:
 * the same for every group written alike, kept once) and its *numbers* (offsets, sizes, counts,
 * min/max) go to a spool file, and `finish()` hands hyparquet-writer's own footer code a list that
 * reads them back one group at a time. The file's bytes are the same as `ParquetWriter`'s.
 *
 * A group some of whose columns need a page index (a column chunk over one page, `pageSize` 1 MiB) or
 * a bloom filter stays in memory whole: `finish()` writes those first and records their offsets in the
 * group's column objects.
 *
 * It uses two of `ParquetWriter`'s fields (`row_groups`, `pendingIndexes`) and how `finish()` walks
 * them, which no release promises (0.16 had ten patch releases). A published package declares a range
 * (package.test.ts), so a change there must fail loudly: the list handed to `finish()` throws naming
 * any other use of it, a missing field is a TypeError on the first write, and
 * test/spooling-writer.test.ts compares the footer byte for byte with `ParquetWriter`'s.
 */
export class SpoolingParquetWriter extends ParquetWriter {
  private readonly spool: Spool;
  /** Written groups, in order: a spooled record (its shape) or a group kept whole. */
  private readonly kept = new Map<number, RowGroup>();
  private groups = 0;

  constructor(options: ConstructorParameters<typeof ParquetWriter>[0] & { spoolPath: string }) {
    const { spoolPath, ...rest } = options;
    super(rest);
    this.spool = new Spool(spoolPath);
  }

  override write(options: Parameters<ParquetWriter["write"]>[0]): void | Promise<void> {
    const pending = super.write(options);
    if (pending) return pending.then(() => this.spoolWritten());
    this.spoolWritten();
  }

  override finish(): void | Promise<void> {
    this.spoolWritten();
    const spool = this.spool;
    const kept = this.kept;
    this.row_groups = lazyList(this.groups, () => spool.read(kept));
    let done: void | Promise<void>;
    try {
      done = super.finish();
    } catch (err) {
      spool.close();
      throw err;
    }
    if (done) return done.finally(() => spool.close());
    spool.close();
  }

  /** Closes and removes the spool file (a failed write: `finish()` does it otherwise). */
  discard(): void {
    this.spool.close();
  }

  /** The groups written since the last call, out of `row_groups` and `pendingIndexes`. */
  private spoolWritten(): void {
    const indexed = this.pendingIndexes.filter((p) => p.columnIndex || p.offsetIndex || p.bloomFilter);
    // entries without an index or filter are skipped by finish(); dropping them frees their chunks
    this.pendingIndexes = indexed;
    const needed = new Set(indexed.map((p) => p.chunk));
    for (const group of this.row_groups) {
      const index = this.groups++;
      if (group.columns.some((c) => needed.has(c)) || !this.spool.append(group)) {
        this.kept.set(index, group);
        this.spool.appendKept();
      }
    }
    this.row_groups = [];
  }
}

const NUMBER = Symbol("number");
const BIGINT = Symbol("bigint");
/** Shapes past this many are kept whole instead (some field varies by more than its numbers). */
const MAX_SHAPES = 256;
const KEPT = -1;
const HEADER_BYTES = 16;

/**
 * Append-only file of row-group records (shape id, numbers, bigints), opened and at once unlinked
 * where the system allows it, so not even a killed process leaves it behind.
 */
class Spool {
  private fd: number | undefined;
  private unlinked = false;
  private bytes = 0;
  private readonly shapes: unknown[] = [];
  private readonly shapeIds = new Map<string, number>();
  private scratch = new ArrayBuffer(4096);

  constructor(private readonly path: string) {
    this.fd = fs.openSync(path, "w+");
    try {
      fs.unlinkSync(path);
      this.unlinked = true;
    } catch {
      // Windows: an open file cannot be removed; close() does it
    }
  }

  /** Appends a group's record; false when its shape cannot be spooled (the caller keeps it). */
  append(group: RowGroup): boolean {
    const numbers: number[] = [];
    const bigints: bigint[] = [];
    const signature: string[] = [];
    if (!flatten(group, numbers, bigints, signature)) return false;
    const key = signature.join("");
    let id = this.shapeIds.get(key);
    if (id === undefined) {
      if (this.shapes.length >= MAX_SHAPES) return false;
      id = this.shapes.push(shapeOf(group)) - 1;
      this.shapeIds.set(key, id);
    }
    this.record(id, numbers, bigints);
    return true;
  }

  appendKept(): void {
    this.record(KEPT, [], []);
  }

  /** The groups in order, one at a time (kept ones from `kept`), read from the spool's start. */
  *read(kept: Map<number, RowGroup>): Generator<RowGroup> {
    let position = 0;
    for (let index = 0; position < this.bytes; index++) {
      const header = this.readAt(position, HEADER_BYTES);
      const [id, count, big] = new Int32Array(header, 0, 3) as unknown as [number, number, number];
      position += HEADER_BYTES;
      if (id === KEPT) {
        yield kept.get(index)!;
        continue;
      }
      const body = this.readAt(position, 8 * (count + big));
      position += 8 * (count + big);
      const cursor = {
        numbers: new Float64Array(body, 0, count),
        bigints: new BigInt64Array(body, 8 * count, big),
        n: 0,
        b: 0,
      };
      yield fill(this.shapes[id], cursor) as RowGroup;
    }
  }

  close(): void {
    if (this.fd === undefined) return;
    fs.closeSync(this.fd);
    this.fd = undefined;
    if (!this.unlinked) fs.rmSync(this.path, { force: true });
  }

  private record(id: number, numbers: number[], bigints: bigint[]): void {
    const size = HEADER_BYTES + 8 * (numbers.length + bigints.length);
    if (this.scratch.byteLength < size) this.scratch = new ArrayBuffer(size);
    new Int32Array(this.scratch, 0, 3).set([id, numbers.length, bigints.length]);
    new Float64Array(this.scratch, HEADER_BYTES, numbers.length).set(numbers);
    new BigInt64Array(this.scratch, HEADER_BYTES + 8 * numbers.length, bigints.length).set(bigints);
    fs.writeSync(this.fd!, new Uint8Array(this.scratch, 0, size), 0, size, this.bytes);
    this.bytes += size;
  }

  /** A copy of `length` bytes at `position` (aligned for the typed arrays over it). */
  private readAt(position: number, length: number): ArrayBuffer {
    const buffer = new ArrayBuffer(length);
    const read = fs.readSync(this.fd!, new Uint8Array(buffer), 0, length, position);
    if (read !== length) throw new Error(`row-group spool ${this.path}: read ${read} of ${length} bytes`);
    return buffer;
  }
}

/**
 * Collects a value's numbers and bigints (depth first) and a signature of everything else (keys,
 * strings, booleans, undefined); false for anything else (typed arrays, dates, class instances).
 */
function flatten(value: unknown, numbers: number[], bigints: bigint[], signature: string[]): boolean {
  switch (typeof value) {
    case "number":
      numbers.push(value);
      signature.push("n");
      return true;
    case "bigint":
      if (value !== BigInt.asIntN(64, value)) return false;
      bigints.push(value);
      signature.push("b");
      return true;
    case "string":
    case "boolean":
      signature.push(JSON.stringify(value));
      return true;
    case "undefined":
      signature.push("u");
      return true;
    case "object": {
      if (value === null) {
        signature.push("z");
        return true;
      }
      if (Array.isArray(value)) {
        signature.push("[");
        for (const item of value) if (!flatten(item, numbers, bigints, signature)) return false;
        signature.push("]");
        return true;
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      signature.push("{");
      for (const [key, item] of Object.entries(value)) {
        signature.push(JSON.stringify(key), ":");
        if (!flatten(item, numbers, bigints, signature)) return false;
      }
      signature.push("}");
      return true;
    }
    default:
      return false;
  }
}

/** The value with its numbers and bigints replaced by markers (for `fill`). */
function shapeOf(value: unknown): unknown {
  if (typeof value === "number") return NUMBER;
  if (typeof value === "bigint") return BIGINT;
  if (Array.isArray(value)) return value.map(shapeOf);
  if (value !== null && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)]));
  return value;
}

interface Cursor {
  numbers: Float64Array;
  bigints: BigInt64Array;
  n: number;
  b: number;
}

/** A fresh copy of a shape with its markers replaced, in order, by the record's values. */
function fill(shape: unknown, cursor: Cursor): unknown {
  if (shape === NUMBER) return cursor.numbers[cursor.n++];
  if (shape === BIGINT) return cursor.bigints[cursor.b++];
  if (Array.isArray(shape)) return shape.map((s) => fill(s, cursor));
  if (shape !== null && typeof shape === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(shape)) out[k] = fill(v, cursor);
    return out;
  }
  return shape;
}

/**
 * An array of `length` items made on demand by `items()` each time it is iterated, for
 * hyparquet-writer's footer code, which calls `row_groups.map(...)` and then iterates the result (twice:
 * to type the list, then to write it). Any other use is an error, so a hyparquet-writer that reads the
 * list some other way fails loudly instead of writing a wrong footer.
 */
function lazyList<T>(length: number, items: () => Iterator<T>): T[] {
  return new Proxy([] as T[], {
    get(_target, key) {
      if (key === "length") return length;
      if (key === Symbol.iterator) return items;
      if (key === "map")
        return <U>(fn: (item: T, index: number) => U) =>
          lazyList(length, function* () {
            let index = 0;
            const it = items();
            for (let r = it.next(); !r.done; r = it.next()) yield fn(r.value, index++);
          });
      throw new Error(`SpoolingParquetWriter: hyparquet-writer read the row groups by ${String(key)}`);
    },
  });
}
