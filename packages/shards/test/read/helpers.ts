import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fixturePath } from "@laion/test-servers";

export const shard = (name: string) => fixturePath("webdataset", name);

/** Collects an async iterable into an array, stopping after `limit` items. */
export async function collect<T>(iterable: AsyncIterable<T>, limit = Number.POSITIVE_INFINITY): Promise<T[]> {
  const out: T[] = [];
  if (limit <= 0) return out;
  for await (const item of iterable) {
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(prefix = "shards-read-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Extracts a tar with the system `tar` (an independent reader) and returns member path → bytes of regular files. */
export function extractWithSystemTar(tarFile: string): Map<string, Buffer> {
  const { dir, cleanup } = tempDir("shards-extract-");
  try {
    execFileSync("tar", ["-xf", tarFile, "-C", dir]);
    const out = new Map<string, Buffer>();
    const walk = (sub: string) => {
      for (const name of readdirSync(path.join(dir, sub))) {
        const rel = sub ? `${sub}/${name}` : name;
        if (statSync(path.join(dir, rel)).isDirectory()) walk(rel);
        else out.set(rel, readFileSync(path.join(dir, rel)));
      }
    };
    walk("");
    return out;
  } finally {
    cleanup();
  }
}

/** True when `python3` can be run. */
export function hasPython(): boolean {
  try {
    execFileSync("python3", ["-c", "import tarfile"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Builds a tar in memory with tar-stream's packer: members in the given order. */
export async function tarBuffer(members: { name: string; data: Uint8Array | string }[]): Promise<Buffer> {
  const { default: tar } = await import("tar-stream");
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on("end", resolve);
    pack.on("error", reject);
  });
  for (const m of members)
    pack.entry({ name: m.name }, typeof m.data === "string" ? m.data : Buffer.from(m.data));
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Writes `count` shards of `perShard` samples (`<shard>-<i>.txt` + `.cls`) to `dir`; returns their paths. */
export async function writeShards(dir: string, count: number, perShard: number): Promise<string[]> {
  const { writeFileSync } = await import("node:fs");
  const paths: string[] = [];
  for (let s = 0; s < count; s++) {
    const members = [];
    for (let i = 0; i < perShard; i++) {
      const key = `s${String(s).padStart(3, "0")}-${String(i).padStart(4, "0")}`;
      members.push({ name: `${key}.txt`, data: `text of ${key}` }, { name: `${key}.cls`, data: String(i) });
    }
    const file = path.join(dir, `shard-${String(s).padStart(5, "0")}.tar`);
    writeFileSync(file, await tarBuffer(members));
    paths.push(file);
  }
  return paths;
}
