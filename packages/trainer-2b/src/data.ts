// The data side of training: @laion/shards readers → @laion/mixer (the seed's laion_prob /
// text_only_prob semantics) → documents (images → VQ codes on the fly) → packed batches.
// Its state (mixer position + packer tail + direction rng) goes into every checkpoint, so a
// resumed run sees exactly the batches an uninterrupted run would have seen. The readers are Resumable:
// the mixer's state carries each one's state() (shard, sample, shuffle block; file offset), so a resume
// seeks to where each source stopped instead of replaying everything it had read.
import {
  heldOutSide,
  isHeldOut,
  laionMixture,
  type MixState,
  Random,
  type Resumable,
  type RngState,
} from "@laion/mixer";
import {
  imageOf,
  type KeyedSample,
  LocalCaptionedImages,
  readCaptions,
  TextCorpus,
  textOf,
  WebDataset,
} from "@laion/shards";
import { CODES_EXT, isCodeSample, readCodeSample } from "@laion/vq";
import type { TrainConfig } from "./config.js";
import { type Batch, buildDoc, type Doc, Packer, type PackerState } from "./sequences.js";
import type { Tokenizer } from "./tokenizer.js";
import type { Vocab } from "./vocab.js";

/** What the trainer needs of a VQ image tokenizer (structurally @laion/vq's VQModel). */
export interface ImageCoder {
  codebookSize: number;
  tokensPerImage: number;
  encodeImageBytes(images: Uint8Array[]): Promise<Int32Array[]>;
  decodeToPng(codes: Int32Array): Promise<Uint8Array>;
  /** The codebook [codebookSize, dim] row-major (model.image_embedding: codebook needs it). */
  codebookVectors?(): Promise<{ data: Float32Array; dim: number }>;
  /** The VQ's identity (config + weights hash): code shards must carry the same one. */
  identityId?(): Promise<string>;
}

export type SourceName = "laion" | "text" | "local";

export interface DataState {
  mixer: MixState;
  packer: PackerState;
  rng: RngState;
}

type RawSample = KeyedSample;

/** One side of the held-out split of a reader (the mixer's split, salted by the source's name). */
function filterSplit(
  reader: AsyncIterable<RawSample> & Resumable,
  source: string,
  fraction: number,
  heldOut: boolean,
): AsyncIterable<RawSample> & Resumable {
  return heldOutSide(reader, {
    keyOf: (s) => s.__key__,
    fraction,
    source,
    side: heldOut ? "held-out" : "train",
  });
}

/** Fresh iterable of one source's raw samples (train or held-out part). */
function openSource(
  cfg: TrainConfig,
  name: SourceName,
  pass: number,
  heldOut: boolean,
): AsyncIterable<RawSample> & Resumable {
  const f = cfg.data.held_out_fraction;
  if (name === "text") return filterSplit(TextCorpus(cfg.data.corpus), name, f, heldOut);
  if (name === "local") {
    const imageRoot = cfg.data.image_root;
    return filterSplit(
      LocalCaptionedImages({ captions: cfg.data.captions!, ...(imageRoot ? { imageRoot } : {}) }),
      name,
      f,
      heldOut,
    );
  }
  const ds = WebDataset(cfg.training.laion_path!, {
    // Held-out reading is one plain pass; training resamples shards forever with a shuffle buffer.
    ...(heldOut ? {} : { resample: true, shuffleBuffer: cfg.training.shuffle_buffer }),
    seed: cfg.training.seed,
    epoch: pass,
    handler: "warnAndContinue",
  });
  return filterSplit(ds, name, f, heldOut);
}

/**
 * LAION captions the tokenizer trains on, at most: enough for every frequent word to get its merges
 * (a LAION caption is ~10 words), few enough that a multi-terabyte --laion-path is not read through.
 */
export const TOKENIZER_LAION_CAPTIONS = 50_000;

/**
 * Training texts for the tokenizer: corpus documents and LAION captions outside the held-out split, and
 * the local captions. LAION counts only when its steps have a share (laion_prob > 0): a LAION-only
 * config would otherwise train a byte-only tokenizer on nothing.
 */
export async function* tokenizerTexts(
  cfg: TrainConfig,
  maxLaionCaptions = TOKENIZER_LAION_CAPTIONS,
): AsyncGenerator<string> {
  const f = cfg.data.held_out_fraction;
  if (cfg.data.corpus.length)
    for await (const s of TextCorpus(cfg.data.corpus)) if (!isHeldOut(s.__key__, f, "text")) yield s.txt;
  if (cfg.data.captions) for (const c of await readCaptions(cfg.data.captions)) yield c.caption;
  if (activeSources(cfg).laion <= 0 || maxLaionCaptions <= 0) return;
  let n = 0;
  // One plain pass in shard order (no resampling), the held-out keys left out as in training.
  for await (const s of WebDataset(cfg.training.laion_path!, { handler: "warnAndContinue" })) {
    if (isHeldOut(s.__key__, f, "laion")) continue;
    const text = textOf(s);
    if (!text) continue;
    yield text;
    if (++n >= maxLaionCaptions) return;
  }
}

/** Bounded FIFO cache of VQ codes by sample key (the user's images come round every epoch). */
class CodeCache {
  private readonly map = new Map<string, Int32Array>();
  constructor(private readonly max: number) {}
  get(k: string) {
    return this.map.get(k);
  }
  set(k: string, v: Int32Array) {
    if (this.max <= 0) return;
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    this.map.set(k, v);
  }
}

export type DocMaker = (
  source: SourceName,
  sample: RawSample,
  direction: "text2image" | "image2text",
) => Promise<Doc | null>;

/**
 * What a code-shard sample (encode-vq-codes output) must match: the loaded VQ's identity. Codes from another
 * tokenizer would train the model on a meaningless vocabulary, so they stop the run naming both checkpoints.
 */
async function expectedVq(cfg: TrainConfig, vq: ImageCoder | null, sample: RawSample) {
  if (!vq?.identityId) {
    throw new Error(
      `--laion-path ${cfg.training.laion_path} holds VQ code shards (${sample.__key__}.${CODES_EXT}): pass the --vq-checkpoint they were encoded with (its id is in each sample's json "vq")`,
    );
  }
  return {
    id: await vq.identityId(),
    checkpoint: cfg.training.vq_checkpoint ?? "the given VQ",
    grid_size: Math.round(Math.sqrt(vq.tokensPerImage)),
  };
}

export function makeDocMaker(params: {
  cfg: TrainConfig;
  tokenizer: Tokenizer;
  vocab: Vocab;
  vq: ImageCoder | null;
}): DocMaker {
  const { cfg, tokenizer, vocab, vq } = params;
  const cache = new CodeCache(cfg.training.code_cache_size);
  // hashing the VQ's tensors is done once, at the first code sample
  let expected: Awaited<ReturnType<typeof expectedVq>> | undefined;
  return async (source, sample, direction) => {
    const text = textOf(sample);
    if (source === "text") {
      return buildDoc({ vocab, tokenizer, source, text, maxTextTokens: cfg.data.max_text_tokens });
    }
    if (isCodeSample(sample)) {
      expected ??= await expectedVq(cfg, vq, sample);
      const { codes, caption } = readCodeSample(sample, expected);
      const maxTextTokens = cfg.data.max_text_tokens;
      return buildDoc({ vocab, tokenizer, source, text: caption, codes, direction, maxTextTokens });
    }
    const bytes = imageOf(sample);
    if (!bytes) return null; // a caption without its image: nothing to learn from
    if (!vq)
      throw new Error(`source "${source}" has images but no VQ checkpoint was given (--vq-checkpoint)`);
    const key = `${source}/${sample.__key__}`;
    let codes = cache.get(key);
    if (!codes) {
      codes = (await vq.encodeImageBytes([bytes]))[0]!;
      cache.set(key, codes);
    }
    return buildDoc({
      vocab,
      tokenizer,
      source,
      text,
      codes,
      direction,
      maxTextTokens: cfg.data.max_text_tokens,
    });
  };
}

/** Sources with a positive share of steps under the config. */
export function activeSources(cfg: TrainConfig): Record<SourceName, number> {
  const p = cfg.training.laion_path ? cfg.training.laion_prob : 0;
  const t = cfg.training.text_only_prob;
  return { laion: p, text: (1 - p) * t, local: (1 - p) * (1 - t) };
}

export function checkSources(cfg: TrainConfig): void {
  const share = activeSources(cfg);
  if (share.text > 0 && cfg.data.corpus.length === 0) {
    throw new Error(
      `data.corpus is empty but text-only steps have share ${share.text.toFixed(3)}; set data.corpus or training.text_only_prob: 0`,
    );
  }
  if (share.local > 0 && !cfg.data.captions) {
    throw new Error(
      `data.captions is null but local image steps have share ${share.local.toFixed(3)}; set data.captions or training.text_only_prob: 1`,
    );
  }
}

export interface TrainStream {
  next(): Promise<Batch>;
  state(): DataState;
}

/** The infinite stream of training batches. */
export function createTrainStream(params: {
  cfg: TrainConfig;
  tokenizer: Tokenizer;
  vocab: Vocab;
  vq: ImageCoder | null;
  seqLen: number;
  resume?: DataState;
}): TrainStream {
  const { cfg, vocab, seqLen, resume } = params;
  checkSources(cfg);
  const share = activeSources(cfg);
  const factory = (name: SourceName) =>
    share[name] > 0 ? ({ pass }: { pass: number }) => openSource(cfg, name, pass, false) : null;
  const mixer = laionMixture(
    { laion: factory("laion"), text: factory("text"), local: factory("local") },
    {
      laionProb: share.laion,
      textOnlyProb: cfg.training.text_only_prob,
      seed: cfg.training.seed,
      stopWhen: "never",
      onExhausted: "restart",
      ...(resume ? { resume: resume.mixer } : {}),
    },
  );
  const it = mixer[Symbol.asyncIterator]();
  const packer = new Packer({
    vocab,
    seqLen,
    batchSize: cfg.training.batch_size,
    sources: ["text", "local", "laion"],
    wholeDocs: !cfg.data.split_documents,
    ...(resume ? { state: resume.packer } : {}),
  });
  const rng = resume ? new Random(resume.rng) : new Random(cfg.training.seed ^ 0x5eed);
  const makeDoc = makeDocMaker(params);
  return {
    async next() {
      while (!packer.ready) {
        const r = await it.next();
        if (r.done) throw new Error("the data mixture ended (every source is empty?)");
        const { source, item } = r.value as { source: SourceName; item: RawSample };
        const direction = rng.next() < cfg.training.image_text_ratio ? "text2image" : "image2text";
        const doc = await makeDoc(source, item, direction);
        if (doc) packer.push(doc);
      }
      return packer.batch();
    },
    state: () => ({ mixer: mixer.state(), packer: packer.state(), rng: rng.state() }),
  };
}

/** Held-out batches per source (fixed for the run): both directions alternate for image sources. */
export async function heldOutBatches(params: {
  cfg: TrainConfig;
  tokenizer: Tokenizer;
  vocab: Vocab;
  vq: ImageCoder | null;
  seqLen: number;
  maxDocsPerSource?: number;
}): Promise<{ batches: Batch[]; docs: Record<string, Doc[]>; samples: Record<string, RawSample[]> }> {
  const { cfg, vocab, seqLen } = params;
  const share = activeSources(cfg);
  const makeDoc = makeDocMaker(params);
  const max = params.maxDocsPerSource ?? 64;
  const batches: Batch[] = [];
  const docs: Record<string, Doc[]> = {};
  const samples: Record<string, RawSample[]> = {};
  for (const name of ["text", "local", "laion"] as SourceName[]) {
    if (!(share[name] > 0)) continue;
    const packer = new Packer({
      vocab,
      seqLen,
      batchSize: cfg.training.batch_size,
      sources: [name],
      wholeDocs: !cfg.data.split_documents,
    });
    const list: Doc[] = [];
    const raw: RawSample[] = [];
    docs[name] = list;
    samples[name] = raw;
    let i = 0;
    for await (const s of openSource(cfg, name, 0, true)) {
      const doc = await makeDoc(name, s, i++ % 2 === 0 ? "image2text" : "text2image");
      if (!doc) continue;
      list.push(doc);
      raw.push(s);
      packer.push(doc);
      while (packer.ready && batches.length < cfg.training.eval_batches * 3) batches.push(packer.batch());
      if (list.length >= max) break;
    }
    if (list.length && !packer.ready) batches.push(packer.batch(true));
  }
  return { batches, docs, samples };
}
