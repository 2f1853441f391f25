// The downloader half of @laion/shards: URLs → resized images → img2dataset-compatible webdataset shards.

export {
  AddressPolicy,
  type AddressPolicyParams,
  isPrivateAddress,
  PRIVATE_ADDRESS_ERROR,
  safeLookup,
} from "./address-safety.js";
export type { DownloadCliOptions } from "./command.js";
export { cliOptionsToParams, downloadCommand, formatSummary } from "./command.js";
export type { DownloadParams, DownloadProgress } from "./download-params.js";
export { DownloadFailedError, defaultConcurrency, downloadShards } from "./download-shards.js";
export type { GeometryFn, GeometryParams, ResizeMode, ResizePlan } from "./geometry.js";
export { isResizeMode, RESIZE_MODES, roundHalfEven } from "./geometry.js";
export type { FetchResult, HttpParams, ImageFetcher } from "./http.js";
export { checkUrl, createImageFetcher, isTransientError, USER_AGENT } from "./http.js";
export type { InputParams, InputRow, OpenedInput, WantShard } from "./input.js";
export { InputError, openInput } from "./input.js";
export type { InputFormat, RecordSource } from "./input-formats.js";
export { formatFromPath, INPUT_FORMATS, openRecordSource } from "./input-formats.js";
export type { ComputeKeyParams } from "./key.js";
export { computeKey, SHARD_DIGITS, sampleDigits, shardName } from "./key.js";
export { DOWNLOAD_RUNTIME } from "./node-runtime.js";
export type { EncodeFormat, ResizeParams, ResizeResult } from "./resize.js";
export { DEFAULT_LIMIT_INPUT_PIXELS, ENCODE_FORMATS, resizeImage, validateResizeParams } from "./resize.js";
export { DEFAULT_DISALLOWED_DIRECTIVES, isDisallowedByRobots, ROBOTS_DISALLOWED_ERROR } from "./robots.js";
export type { DownloadOutputParams, DownloadStatus } from "./run-manifest.js";
export { DOWNLOAD_FLAGS, downloadManifestParams, downloadStatus, transientFailures } from "./run-manifest.js";
export type { SampleMeta, SampleRecord, SampleStatus } from "./sample-meta.js";
export { asSampleMeta, plainValue, pythonJson } from "./sample-meta.js";
export type { SampleWriter, ShardFiles, WebDatasetWriterParams } from "./shard-writer.js";
export {
  createWebDatasetWriter,
  isShardComplete,
  readShardStats,
  shardFiles,
  shardOfFile,
  writeShardStats,
} from "./shard-writer.js";
export type { RunStats, ShardStats } from "./stats.js";
export type { OutputParams, PendingObject, S3StorageParams, ShardStorage } from "./storage.js";
export { localFolderStorage, OutputError, openStorage, s3Storage } from "./storage.js";
export { downloadArgs } from "./to-args.js";
export type { WorkerSlot } from "./workers.js";
export { ownsShard, resolveWorkerSlot } from "./workers.js";
