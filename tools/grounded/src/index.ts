// Public API of @laion/grounded-shapes: seeded synthetic captioned images for checking that the
// VQ + transformer path learns (tools/bench/grounded.bench.mjs), written as webdataset shards.
export type { ColourDef, Combo, PositionDef, Rgb, ShapeDef } from "./attributes.js";
export {
  COLOURS,
  colourDef,
  comboId,
  DEFAULT_HELD_OUT,
  POSITIONS,
  parseCombos,
  positionDef,
  SHAPES,
  shapeDef,
  splitCombos,
} from "./attributes.js";
export type { Described, Lang, ReadAttributes } from "./captions.js";
export { caption, LANGS, readAttributes, TEMPLATE_COUNT } from "./captions.js";
export type { Judged, RawImage } from "./classify.js";
export { classifyImage, classifyPixels, decodeImage } from "./classify.js";
export type { GroundedSample, SampleParams, Split } from "./samples.js";
export { checkSampleParams, groundedSample, SPLITS } from "./samples.js";
export type { Scene } from "./scene.js";
export { makeScene, renderScene, sceneSvg } from "./scene.js";
export type { WriteParams, WriteResult } from "./write-shards.js";
export {
  CAPTIONS_FILE,
  MANIFEST,
  MANIFEST_FORMAT,
  TRUTH_COLUMNS,
  writeGroundedShards,
} from "./write-shards.js";
