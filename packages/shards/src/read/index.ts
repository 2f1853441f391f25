// Readers of @laion/shards: webdataset tars (local, http, s3, pipe), the user's captioned images, text corpora.
export { WebDataset, type WebDatasetOptions, type Sample } from "./web-dataset.js";
export { LocalCaptionedImages, readCaptions } from "./local-captioned-images.js";
export type {
  CaptionedImage,
  CaptionedImages,
  LocalCaptionedImagesParams,
  LocalCaptionedImagesStats,
} from "./local-captioned-images.js";
export { TextCorpus, type TextCorpusOptions, type TextSample } from "./text-corpus.js";
export { type ErrorHandler, ShardError } from "./errors.js";
export type { RawSample } from "./group-samples.js";
export type { DecodeOptions, RgbImage } from "./decode.js";
export type { SplitOptions } from "./split.js";
// Building blocks, for custom pipelines.
export { expandBraces } from "./brace-expand.js";
export { resolveShards } from "./shard-list.js";
export { openShard, type OpenedShard } from "./open-shard.js";
export { tarMembers, type TarMember } from "./tar-members.js";
export { groupSamples, splitKey } from "./group-samples.js";
export { shuffleBuffer } from "./shuffle-buffer.js";
export { decodeRgb } from "./decode.js";
export { createS3Client, parseS3Url, type S3Options } from "./s3.js";
