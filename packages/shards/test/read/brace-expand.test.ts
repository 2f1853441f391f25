import { describe, expect, test } from "vitest";
import { expandBraces, splitKey } from "../../src/read/index.js";

describe("expandBraces", () => {
  test("zero-padded numeric ranges keep their width", () => {
    const urls = expandBraces("data/{00000..00127}.tar");
    expect(urls).toHaveLength(128);
    expect(urls[0]).toBe("data/00000.tar");
    expect(urls[127]).toBe("data/00127.tar");
    expect(expandBraces("{8..11}")).toEqual(["8", "9", "10", "11"]);
    expect(expandBraces("{08..11}")).toEqual(["08", "09", "10", "11"]);
    expect(expandBraces("{3..1}")).toEqual(["3", "2", "1"]);
    expect(expandBraces("{0..10..5}")).toEqual(["0", "5", "10"]);
  });

  test("lists, nesting, several groups, literals and escapes", () => {
    expect(expandBraces("s3://b/{train,val}-{0..1}.tar")).toEqual([
      "s3://b/train-0.tar",
      "s3://b/train-1.tar",
      "s3://b/val-0.tar",
      "s3://b/val-1.tar",
    ]);
    expect(expandBraces("{a,b{1..2}}")).toEqual(["a", "b1", "b2"]);
    expect(expandBraces("x{}y{z}")).toEqual(["x{}y{z}"]);
    expect(expandBraces("{a,}b")).toEqual(["ab", "b"]);
    expect(expandBraces("a\\{1,2\\}b")).toEqual(["a{1,2}b"]);
    expect(expandBraces("no-braces.tar")).toEqual(["no-braces.tar"]);
    expect(expandBraces("open{1,2")).toEqual(["open{1,2"]);
  });
});

describe("splitKey (webdataset's base_plus_ext)", () => {
  test("key is the path up to the first dot of the basename, directories kept", () => {
    expect(splitKey("000001.jpg")).toEqual({ key: "000001", ext: "jpg" });
    expect(splitKey("dir/sub/abc.seg.json")).toEqual({ key: "dir/sub/abc", ext: "seg.json" });
    expect(splitKey("dir.v2/abc.JPG")).toEqual({ key: "dir.v2/abc", ext: "JPG" });
    expect(splitKey("README")).toBeNull();
    expect(splitKey("dir/")).toBeNull();
  });
});
