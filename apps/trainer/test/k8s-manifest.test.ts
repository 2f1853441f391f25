import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, test } from "vitest";
import { parseAllDocuments } from "yaml";

const root = path.resolve(import.meta.dirname, "../../..");
const manifest = path.join(root, "tools/k8s/download-indexed-job.yaml");

interface Container {
  name: string;
  command: string[];
  args: string[];
}

function containers(): Record<string, Container> {
  const docs = parseAllDocuments(fs.readFileSync(manifest, "utf8")).map((d) => d.toJS());
  const out: Record<string, Container> = {};
  for (const doc of docs) {
    if (doc?.kind !== "Job") continue;
    for (const c of doc.spec.template.spec.containers as Container[]) out[c.name] = c;
  }
  return out;
}

/** The flags a built CLI accepts, from its --help. */
function helpFlags(cli: string): Set<string> {
  const help = execFileSync("node", [cli, "--help"], { cwd: root, encoding: "utf8" });
  return new Set(help.match(/--[a-z][a-z0-9-]*/g) ?? []);
}

describe("tools/k8s/download-indexed-job.yaml", () => {
  const c = containers();

  test("is an Indexed Job whose worker count matches its completions, split by JOB_COMPLETION_INDEX", () => {
    const docs = parseAllDocuments(fs.readFileSync(manifest, "utf8")).map((d) => d.toJS());
    const job = docs.find((d) => d?.metadata?.name === "laion-download");
    expect(job.spec.completionMode).toBe("Indexed");
    const args = c["download"]!.args;
    expect(args[args.indexOf("--worker-count") + 1]).toBe(String(job.spec.completions));
    expect(args[args.indexOf("--worker-index") + 1]).toBe("$(JOB_COMPLETION_INDEX)");
    expect(args[args.indexOf("--output") + 1]).toMatch(/^s3:\/\//);
    expect(args[args.indexOf("--image-size") + 1]).toBe("256");
  });

  for (const [name, bin, dist] of [
    ["download", "packages/shards/bin/download-laion-images.js", "packages/shards/dist/download-cli.js"],
    ["fetch", "packages/fetch/bin/fetch-laion-subset.js", "packages/fetch/dist/cli.js"],
  ] as const) {
    test(`the ${name} container starts ${bin}, whose shebang carries the package's node settings`, () => {
      // `node dist/…` would run without them (each package's package.test.ts checks its shebang)
      expect(c[name]!.command).toEqual([bin]);
      expect(fs.statSync(path.join(root, bin)).mode & 0o111).not.toBe(0);
      expect(fs.readFileSync(path.join(root, bin), "utf8")).toMatch(/^#!\/usr\/bin\/env -S /);
    });

    test.skipIf(!fs.existsSync(path.join(root, dist)))(
      `every flag the ${name} container passes exists in ${dist}`,
      () => {
        const known = helpFlags(dist);
        const used = c[name]!.args.filter((a) => a.startsWith("--"));
        expect(used.filter((f) => !known.has(f))).toEqual([]);
      },
    );
  }
});
