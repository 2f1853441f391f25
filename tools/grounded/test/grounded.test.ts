import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRng } from "@laion/mixer";
import { WebDataset } from "@laion/shards";
import { afterAll, describe, expect, it } from "vitest";
import { outline } from "../src/geometry.js";
import {
  CAPTIONS_FILE,
  COLOURS,
  caption,
  classifyImage,
  comboId,
  DEFAULT_HELD_OUT,
  groundedSample,
  MANIFEST,
  makeScene,
  POSITIONS,
  parseCombos,
  readAttributes,
  renderScene,
  SHAPES,
  writeGroundedShards,
} from "../src/index.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "grounded-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const held = new Set(DEFAULT_HELD_OUT.map(comboId));

describe("groundedSample", () => {
  it("is a pure function of (seed, split, index)", () => {
    const a = groundedSample({ seed: 7, split: "train" }, 123);
    const b = groundedSample({ seed: 7, split: "train" }, 123);
    expect(a).toEqual(b);
    expect(groundedSample({ seed: 8, split: "train" }, 123)).not.toEqual(a);
    expect(groundedSample({ seed: 7, split: "train" }, 124)).not.toEqual(a);
  });

  it("never draws a held-out pair in the train split, and draws every other pair", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const s = groundedSample({ seed: 1, split: "train" }, i).scene;
      seen.add(comboId(s));
    }
    for (const c of seen) expect(held.has(c)).toBe(false);
    expect(seen.size).toBe(COLOURS.length * SHAPES.length - DEFAULT_HELD_OUT.length);
  });

  it("cycles the held-out split through every held-out pair × position × language", () => {
    const n = DEFAULT_HELD_OUT.length * POSITIONS.length * 2;
    const keys = new Set<string>();
    for (let i = 0; i < n; i++) {
      const s = groundedSample({ seed: 1, split: "heldout" }, i);
      expect(held.has(comboId(s.scene))).toBe(true);
      keys.add(`${comboId(s.scene)}/${s.scene.position}/${s.lang}`);
    }
    expect(keys.size).toBe(n);
  });

  it("names bad parameters", () => {
    expect(() => groundedSample({ seed: 1, split: "heldout", heldOut: [] }, 0)).toThrow(
      /heldout split is empty/,
    );
    expect(() => parseCombos("red-circle,pink-square")).toThrow(/unknown colour "pink"/);
    expect(() => parseCombos("red")).toThrow(/colour-shape/);
  });
});

describe("captions", () => {
  it("read back every attribute from every template in both languages", () => {
    for (const c of COLOURS)
      for (const s of SHAPES)
        for (const p of POSITIONS)
          for (const lang of ["en", "si"] as const)
            for (const t of [0, 1]) {
              const text = caption({ colour: c.id, shape: s.id, position: p.id }, lang, t);
              expect(readAttributes(text), text).toEqual({ colour: c.id, shape: s.id, position: p.id });
            }
  });

  it("give null for a missing or ambiguous attribute", () => {
    expect(readAttributes("a red blue circle")).toEqual({ colour: null, shape: "circle", position: null });
    expect(readAttributes("")).toEqual({ colour: null, shape: null, position: null });
    expect(caption({ colour: "red", shape: "circle", position: "left" }, "si")).toBe(
      "කවයක් වම් පැත්තේ. එය රතු පාටයි.",
    );
    expect(caption({ colour: "orange", shape: "star", position: "top" }, "en", 1)).toBe(
      "at the top, a star. it is orange.",
    );
  });

  it("name the shape before the colour in every template (the colour word must not pick the shape)", () => {
    for (const lang of ["en", "si"] as const)
      for (const t of [0, 1]) {
        const d = { colour: "purple", shape: "triangle", position: "bottom" };
        const text = caption(d, lang, t);
        const shapeAt = text.indexOf(lang === "en" ? "triangle" : "ත්‍රිකෝණයක්");
        const colourAt = text.indexOf(lang === "en" ? "purple" : "දම්");
        expect(shapeAt, text).toBeGreaterThanOrEqual(0);
        expect(colourAt, text).toBeGreaterThan(shapeAt);
      }
  });
});

describe("scenes", () => {
  it("keep every shape whole inside the image, at the extremes of size and place", () => {
    // An rng stuck at one end of every draw: smallest/largest shape, pushed furthest to its side.
    const stuck = (v: number) => ({ ...createRng(0), nextFloat: () => v });
    for (const v of [0, 0.999999])
      for (const s of SHAPES)
        for (const p of POSITIONS) {
          const sc = makeScene(stuck(v), { colour: "red", shape: s.id }, p.id, 64);
          for (const [x, y] of outline(sc.shape, sc.cx, sc.cy, sc.r)) {
            expect(x, `${s.id} ${p.id} v=${v}`).toBeGreaterThanOrEqual(0);
            expect(y, `${s.id} ${p.id} v=${v}`).toBeGreaterThanOrEqual(0);
            expect(x, `${s.id} ${p.id} v=${v}`).toBeLessThanOrEqual(64);
            expect(y, `${s.id} ${p.id} v=${v}`).toBeLessThanOrEqual(64);
          }
        }
  });
});

describe("the pixel classifier", () => {
  it("reads colour, shape and position of rendered images", async () => {
    const rng = createRng(3);
    let n = 0;
    for (const c of COLOURS)
      for (const s of SHAPES)
        for (const p of POSITIONS) {
          const scene = makeScene(rng, { colour: c.id, shape: s.id }, p.id, 64);
          const judged = await classifyImage(await renderScene(scene));
          expect(judged, `${c.id} ${s.id} ${p.id}`).toMatchObject({
            colour: c.id,
            shape: s.id,
            position: p.id,
          });
          n++;
        }
    expect(n).toBe(96);
  });

  it("finds nothing in a blank image", async () => {
    const scene = { ...makeScene(createRng(1), { colour: "red", shape: "circle" }, "left", 32), r: 0 };
    expect((await classifyImage(await renderScene(scene))).shape).toBeNull();
  });
});

describe("writeGroundedShards", () => {
  it("writes shards the WebDataset reader reads, with the truth in each sample's json", async () => {
    const outDir = path.join(tmp, "train");
    const r = await writeGroundedShards({ outDir, split: "train", seed: 5, count: 25, shardSize: 10 });
    expect(r.shards.map((f) => path.basename(f))).toEqual(["00000.tar", "00001.tar", "00002.tar"]);
    const samples = [];
    for await (const s of WebDataset(outDir)) samples.push(s);
    expect(samples).toHaveLength(25);
    const first = samples[0]!;
    const truth = groundedSample({ seed: 5, split: "train" }, 0);
    expect(first.__key__).toBe("000000"); // shard 0, index 0 (1 digit for 10 per shard)
    expect(new TextDecoder().decode(first["txt"] as Uint8Array)).toBe(truth.caption);
    const meta = JSON.parse(new TextDecoder().decode(first["json"] as Uint8Array));
    expect(meta).toMatchObject({ colour: truth.scene.colour, shape: truth.scene.shape, split: "train" });
    expect(await classifyImage(first["png"] as Uint8Array)).toMatchObject({
      colour: truth.scene.colour,
      shape: truth.scene.shape,
      position: truth.scene.position,
    });
    const lines = fs.readFileSync(path.join(outDir, CAPTIONS_FILE), "utf8").split("\n");
    expect(lines.slice(0, 25)).toEqual(samples.map((s) => new TextDecoder().decode(s["txt"] as Uint8Array)));
    for (const s of samples) {
      const m = JSON.parse(new TextDecoder().decode(s["json"] as Uint8Array));
      expect(held.has(`${m.colour}-${m.shape}`)).toBe(false);
    }
  });

  it("skips finished shards on a rerun and refuses a folder written with other parameters", async () => {
    const outDir = path.join(tmp, "rerun");
    await writeGroundedShards({ outDir, split: "heldout", seed: 5, count: 12, shardSize: 6 });
    const before = fs.readFileSync(path.join(outDir, "00001.tar"));
    fs.rmSync(path.join(outDir, "00000_stats.json")); // as if killed before shard 0 finished
    const again = await writeGroundedShards({ outDir, split: "heldout", seed: 5, count: 12, shardSize: 6 });
    expect(again.skipped).toBe(1);
    expect(fs.readFileSync(path.join(outDir, "00001.tar"))).toEqual(before);
    await expect(
      writeGroundedShards({ outDir, split: "heldout", seed: 6, count: 12, shardSize: 6 }),
    ).rejects.toThrow(new RegExp(`${MANIFEST} was written with other parameters`));
  });
});
