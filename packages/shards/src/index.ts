// Public API of @laion/shards: the downloader (URLs → webdataset shards) and the readers.
export * from "./download/index.js";
export * from "./read/index.js";
