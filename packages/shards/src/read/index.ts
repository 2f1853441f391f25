// Readers of @laion/shards: webdataset tars (local, http, s3, pipe), the user's captioned images, text corpora.

// Building blocks, for custom pipelines.
export { expandBraces } from "./brace-expand.js";
export { decodeRgb } from "./decode.js";
export { type ErrorHandler, ShardError } from "./errors.js";
export { groupSamples, splitKey } from "./group-samples.js";
export { type DatasetStats, datasetStats, type SampleSummary, summarizeSample } from "./inspect.js";
export type {
  CaptionedImage,
  CaptionedImages,
  LocalCaptionedImagesParams,
  LocalCaptionedImagesState,
  LocalCaptionedImagesStats,
} from "./local-captioned-images.js";
export { LocalCaptionedImages, readCaptions } from "./local-captioned-images.js";
export { DEFAULT_HTTP_TIMEOUT_MS, type OpenedShard, openShard } from "./open-shard.js";
export { createS3Client, parseS3Url, type S3Options } from "./s3.js";
export { IMAGE_MEMBERS, imageOf, type KeyedSample, textOf } from "./sample-members.js";
export type {
  DecodeOptions,
  JsonDecoder,
  JsonValue,
  KnownExtension,
  MemberValue,
  RawSample,
  RgbImage,
  Sample,
  SampleKeys,
} from "./sample-types.js";
export { resolveShards } from "./shard-list.js";
export type { SplitOptions } from "./split.js";
export {
  DEFAULT_MAX_MEMBER_BYTES,
  DEFAULT_MAX_SHARD_BYTES,
  type MemberLimits,
  type TarMember,
  tarMembers,
} from "./tar-members.js";
export {
  TextCorpus,
  type TextCorpusOptions,
  type TextCorpusReader,
  type TextCorpusState,
  type TextSample,
} from "./text-corpus.js";
export {
  WebDataset,
  type WebDatasetOptions,
  type WebDatasetReader,
  type WebDatasetState,
} from "./web-dataset.js";
