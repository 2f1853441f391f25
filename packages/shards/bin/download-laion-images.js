#!/usr/bin/env -S node --heap-growing-percent=300
// --heap-growing-percent=300: fewer full GCs of the whole heap while images stream through it (why and
// what it measured: DOWNLOAD_RUNTIME in src/download/node-runtime.ts, the one home of the value;
// package.test.ts checks that this line agrees). Set at start-up here; it acts when set at run time too,
// which is how the trainer app applies it to its download stage and how a library caller can
// (`withV8Flags(DOWNLOAD_RUNTIME.v8Flags, …)` from @laion/cli-kit).
// Committed so npm links it at `npm ci` time (before dist/ exists); runs the built CLI.
import { launch } from "@laion/cli-kit/launch";

await launch(new URL("../dist/download-cli.js", import.meta.url), "download-laion-images");
