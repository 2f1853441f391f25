type Typed = Uint8Array | Int32Array;

/**
 * Arrays a column's page reader reuses from one page to the next, by purpose (compressed bytes,
 * decompressed bytes, definition levels, dictionary indices, string offsets). A page lives for many
 * reads, so whatever it allocates is promoted to V8's old generation and freed only by a full GC: over
 * 10M LAION rows that was gigabytes of buffers waiting there, the growth of a long fetch's peak RSS.
 * What a reused array held is overwritten by the next page, so nothing handed out may point into one.
 */
export class Scratch {
  private readonly arrays = new Map<string, Typed>();

  /**
   * `size` elements of the array kept for `purpose` (contents undefined), replacing it when too small by
   * one 1/8 larger than asked: a column's pages differ in size by a few bytes, and doubling would hold up
   * to twice the largest page (the longer a run, the likelier a page a byte larger than those before).
   */
  get<T extends Typed>(purpose: string, make: new (length: number) => T, size: number): T {
    let array = this.arrays.get(purpose) as T | undefined;
    if (!array || array.length < size) {
      array = new make(size + (size >> 3));
      this.arrays.set(purpose, array);
    }
    return array.subarray(0, size) as T;
  }
}
