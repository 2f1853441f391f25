#!/usr/bin/env -S node --heap-growing-percent=300
// V8 grows the old generation's limit by 300 % after a full GC (its default factor is far lower at a
// small heap): each image passes ~240 kB of short-lived buffers (socket chunks, body, encoded output)
// through the heap, and V8 read that external-memory churn as a reason to mark the whole heap 4–9
// times per 300 images. With this flag: 0–1 full GCs per round (tools/bench/download.bench.mjs,
// docs/benchmarks.md). Node takes it only at start-up, hence here; library callers set it on their
// own `node` command line if they want it.
// Committed so npm links it at `npm ci` time (before dist/ exists); runs the built CLI.
import { launch } from "@laion/cli-kit/launch";

await launch(new URL("../dist/download-cli.js", import.meta.url), "download-laion-images");
