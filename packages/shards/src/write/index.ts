// The writers of @laion/shards: webdataset tars, one at a time or as a size/count-limited sequence.

export { defaultShardName, ShardWriter, type ShardWriterParams } from "./shard-writer.js";
export {
  encodeMember,
  type TarInfo,
  TarWriter,
  type TarWriterParams,
  type WritableSample,
} from "./tar-writer.js";
