import { describe, expect, test } from "vitest";
import { buildEvalSet } from "../src/eval-set.js";
import { fixturePhotos, photoSamples } from "./helpers.js";

describe("buildEvalSet", () => {
  test("draws held-out images from every source by share, the same set every time", async () => {
    const photos = await fixturePhotos();
    const local = photoSamples(photos, 60);
    const laion = photoSamples(
      photos.map((p) => ({ ...p, name: `laion-${p.name}` })),
      60,
    );
    const build = () =>
      buildEvalSet({
        sources: [
          { name: "local", share: 0.25, samples: async () => local() },
          { name: "laion", share: 0.75, samples: async () => laion() },
        ],
        count: 16,
        imageSize: 16,
        heldOutFraction: 0.05,
        seed: 0,
      });
    const a = await build();
    expect(a).toMatchObject({
      n: 16,
      distinct: 16,
      crops: 0,
      heldOut: true,
      perSource: { local: 4, laion: 12 },
    });
    expect(a.keys.every((k) => !k.includes("#crop"))).toBe(true);
    const b = await build();
    expect(b.keys).toEqual(a.keys);
    expect(b.images).toEqual(a.images);
  });
});
