// `node --import ./tools/scripts/ts-loader.mjs` runs this workspace's TypeScript sources directly: the
// worker threads of data-parallel training, when started from the sources (vitest runs those; a built
// package starts its compiled worker instead). vitest.shared.ts hands this file to them.
import { register } from "node:module";

register("./ts-hooks.mjs", import.meta.url);
