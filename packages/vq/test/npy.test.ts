import { readFile } from "node:fs/promises";
import { fixturePath } from "@laion/test-servers";
import { describe, expect, it } from "vitest";
import { codeDtype, decodeNpy, encodeNpy, type NpyIntDtype } from "../src/npy.js";

// Files written by numpy 2.4.6 (`np.save`), see fixtures/npy/README.md; values restated here from numpy's output.
const golden = (name: string) => readFile(fixturePath(`npy/${name}`)).then((b) => new Uint8Array(b));

const u2_4x4 = [0, 4093, 8186, 4087, 8180, 4081, 8174, 4075, 8168, 4069, 8162, 4063, 8156, 4057, 8150, 4051];

describe("npy", () => {
  it.each<[string, NpyIntDtype, number[], number[]]>([
    ["codes_u2_4x4.npy", "<u2", [4, 4], u2_4x4],
    ["codes_i4_2x3.npy", "<i4", [2, 3], [0, 70000, 5, 123456, 1, 65535]],
    ["codes_u1_8.npy", "|u1", [8], [0, 31, 62, 93, 124, 155, 186, 217]],
    ["codes_u2_0d.npy", "<u2", [], [7]],
  ])(
    "writes exactly the bytes numpy.save wrote for %s, and reads them back",
    async (file, dtype, shape, values) => {
      const bytes = await golden(file);
      expect(encodeNpy({ dtype, shape, data: values })).toEqual(bytes);
      const read = decodeNpy(bytes, file);
      expect(read.dtype).toBe(dtype);
      expect(read.shape).toEqual(shape);
      expect(Array.from(read.data)).toEqual(values);
    },
  );

  it("round-trips a 16×16 grid of codes up to 65520 (codebooks up to 65,536 fit <u2)", async () => {
    const bytes = await golden("codes_u2_big_16x16.npy");
    const read = decodeNpy(bytes);
    expect(read.shape).toEqual([16, 16]);
    expect(read.data[16]).toBe(4112); // numpy: a[1, 0]
    expect(read.data[255]).toBe((255 * 257) % 65521);
    expect(encodeNpy({ dtype: "<u2", shape: [16, 16], data: read.data })).toEqual(bytes);
  });

  it("picks the smallest dtype for a codebook", () => {
    expect(codeDtype(256)).toBe("|u1");
    expect(codeDtype(257)).toBe("<u2");
    expect(codeDtype(65536)).toBe("<u2");
    expect(codeDtype(65537)).toBe("<i4");
  });

  it("refuses floats and Fortran order with the member's name", async () => {
    expect(() => decodeNpy(new Uint8Array(0), "s/00000.tar:k.vq.npy")).toThrow(
      /s\/00000.tar:k.vq.npy: not a .npy file/,
    );
    expect(() => decodeNpy(new Uint8Array(Buffer.from("PK\x03\x04 zipped")), "x")).toThrow(/magic/);
    await expect(golden("codes_f4_2.npy").then((b) => decodeNpy(b, "f.npy"))).rejects.toThrow(
      /f.npy: .npy dtype <f4 is not an integer type/,
    );
    await expect(golden("codes_i2_fortran_2x2.npy").then((b) => decodeNpy(b, "f.npy"))).rejects.toThrow(
      /Fortran-order/,
    );
  });

  it("refuses truncated data and values the dtype cannot hold", async () => {
    const bytes = await golden("codes_u2_4x4.npy");
    expect(() => decodeNpy(bytes.subarray(0, bytes.length - 1), "t.npy")).toThrow(
      /t.npy: truncated .npy data: shape \(4, 4\) needs 32 bytes, found 31/,
    );
    expect(() => decodeNpy(bytes.subarray(0, 40), "t.npy")).toThrow(/truncated .npy header/);
    expect(() => encodeNpy({ dtype: "|u1", shape: [2], data: [1, 256] })).toThrow(
      /value 256 at index 1 does not fit \|u1/,
    );
    expect(() => encodeNpy({ dtype: "<u2", shape: [2, 2], data: [1, 2, 3] })).toThrow(
      /needs 4 values, got 3/,
    );
    expect(() => encodeNpy({ dtype: "<i2", shape: [1], data: [-1.5] })).toThrow(/does not fit/);
  });

  it("reads big-endian files (numpy on other machines, '>u2')", () => {
    const le = encodeNpy({ dtype: "<u2", shape: [2], data: [1, 258] });
    const be = le.slice();
    be.set(Buffer.from("'>u2'"), Buffer.from(le).indexOf("'<u2'"));
    be.set([0, 1, 1, 2], be.length - 4);
    expect(Array.from(decodeNpy(be).data)).toEqual([1, 258]);
  });
});
