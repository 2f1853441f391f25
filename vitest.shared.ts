import { defineConfig } from "vitest/config";

/** Shared vitest settings: resolve workspace packages to their TypeScript sources (the `source` export condition), so tests never depend on a prior build. */
export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    reporters: ["default"],
  },
});
