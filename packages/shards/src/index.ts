// Public API of @laion/shards: the downloader (URLs → webdataset shards), the readers and the shard writers.
export * from "./download/index.js";
export * from "./read/index.js";
export * from "./write/index.js";
