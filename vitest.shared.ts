import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { TFJS_REGISTRATIONS, tfjsRegistrationsBundle } from "./tools/scripts/tfjs-registrations.mjs";

// Worker threads started from the TypeScript sources (data-parallel training) load them through this.
const tsLoader = new URL("./tools/scripts/ts-loader.mjs", import.meta.url).href;
// Each run's temporary files go into one folder that is removed at the end (see test-tmpdir.mjs).
const testTmpdirSetup = fileURLToPath(new URL("./tools/scripts/test-tmpdir.mjs", import.meta.url));

/** Shared vitest settings: resolve workspace packages to their TypeScript sources (the `@laion/source` export condition), so tests never depend on a prior build. */
export default defineConfig({
  resolve: {
    conditions: ["@laion/source"],
    // tfjs-core's gradient and chained-op registrations, as one bundle (see tfjs-registrations.mjs)
    alias: [{ find: TFJS_REGISTRATIONS, replacement: tfjsRegistrationsBundle() }],
  },
  ssr: { resolve: { conditions: ["@laion/source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    globalSetup: [testTmpdirSetup],
    env: { LAION_TS_LOADER: tsLoader },
    reporters: ["default"],
  },
});
