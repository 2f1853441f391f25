import { stat } from "node:fs/promises";
import path from "node:path";
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { glob } from "tinyglobby";
import { expandBraces } from "./brace-expand.js";
import { describeS3Error, parseS3Url } from "./s3.js";

const SHARD_EXTENSIONS = [".tar", ".tgz", ".tar.gz"];
const REMOTE = /^(https?:\/\/|s3:\/\/|pipe:)/;
const GLOB_CHARS = /[*?[\]]/;

/** True for a name ending in .tar, .tgz or .tar.gz. */
export function isShardName(name: string): boolean {
  const lower = name.toLowerCase();
  return SHARD_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/**
 * Turns what a user wrote into the ordered list of shard URLs:
 * brace patterns are expanded (for every kind of source, `pipe:` included);
 * `http(s)://` and `pipe:` pass through; `s3://bucket/prefix/` (trailing slash) lists the
 * shards under the prefix; `file://` URLs become paths; a local folder gives every
 * .tar/.tgz/.tar.gz below it, sorted; a glob gives its matches, sorted. A path that does not
 * exist is kept, so opening it fails under the error handler like any unreachable shard.
 */
export async function resolveShards(params: {
  urls: string | readonly string[];
  s3Client?: () => S3Client;
}): Promise<string[]> {
  const inputs = typeof params.urls === "string" ? [params.urls] : params.urls;
  const out: string[] = [];
  for (const input of inputs) {
    for (const url of expandBraces(input)) {
      if (url.startsWith("s3://") && url.endsWith("/")) {
        if (!params.s3Client) throw new Error(`cannot list ${url}: no S3 client`);
        out.push(...(await listS3Shards(params.s3Client(), url)));
      } else if (REMOTE.test(url)) {
        out.push(url);
      } else {
        out.push(...(await resolveLocal(url.startsWith("file://") ? new URL(url).pathname : url)));
      }
    }
  }
  if (out.length === 0) throw new Error(`no shards found in ${inputs.join(", ")}`);
  return out;
}

async function resolveLocal(p: string): Promise<string[]> {
  const info = await stat(p).catch(() => null);
  if (info?.isDirectory()) {
    const found = await glob("**/*.{tar,tgz,tar.gz,TAR,TGZ,TAR.GZ}", { cwd: p, onlyFiles: true });
    if (found.length === 0) throw new Error(`no .tar/.tgz/.tar.gz shards in folder ${p}`);
    return found.sort().map((f) => path.join(p, f));
  }
  if (info || !GLOB_CHARS.test(p)) return [p];
  const found = await glob(p, { onlyFiles: true, absolute: path.isAbsolute(p), expandDirectories: false });
  if (found.length === 0) throw new Error(`glob ${p} matched no files`);
  return found.sort();
}

async function listS3Shards(client: S3Client, url: string): Promise<string[]> {
  const { bucket, key: prefix } = parseS3Url(url);
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client
      .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }))
      .catch((error: unknown) => {
        throw new Error(`cannot list ${url}: ${describeS3Error(error)}`);
      });
    for (const object of page.Contents ?? [])
      if (object.Key && isShardName(object.Key)) keys.push(object.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  if (keys.length === 0) throw new Error(`no .tar/.tgz/.tar.gz shards under ${url}`);
  return keys.sort().map((k) => `s3://${bucket}/${k}`);
}
