#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=1048576 node --max-semi-space-size=8
// The young generation capped at 8 MB a semi-space (V8's default grows it to 16): a fetch allocates
// fast, and V8 grew it to its maximum, 32 MB of the peak RSS, and let garbage array buffers wait for
// it. Measured on 1M LAION-like rows: peak RSS 171 → 147 MB at the same CPU time (4 MB cost 23 % more
// CPU). Node takes this flag only at start-up, hence here; `node --max-semi-space-size=16 <this file>`
// overrides it (a flag on the command line wins over NODE_OPTIONS).
// MALLOC_MMAP_THRESHOLD_ fixes glibc's threshold at 1 MiB: by default glibc raises it, and its trim
// threshold (2×), to the largest block freed so far (output page buffers of ~1.1 MB), then keeps that
// much freed memory at the top of its main heap; fixed, blocks ≥ 1 MiB go back to the system when freed
// and the heap is trimmed past 128 KiB. 1M rows, three alternating rounds: peak RSS 107 → 104 MB, same
// CPU. Only glibc reads it (musl ignores it), and it has to be in the environment at start-up, hence here.
// These values are FETCH_RUNTIME's (src/node-runtime.ts, which the trainer app's process uses too):
// package.test.ts checks that they agree.
// Committed so npm links it at `npm ci` time (before dist/ exists); runs the built CLI.
import { launch } from "@laion/cli-kit/launch";

await launch(new URL("../dist/cli.js", import.meta.url), "fetch-laion-subset");
