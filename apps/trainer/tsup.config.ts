import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/cli.ts"],
  format: ["esm"],
  dts: { entry: "src/index.ts" },
  sourcemap: true,
  clean: true,
  target: "node20",
  tsconfig: "tsconfig.build.json",
  // @laion/test-servers is a private workspace package shipped as TypeScript source (no dist): the
  // demo needs its servers at run time, so they are bundled into the app's dist.
  noExternal: ["@laion/test-servers"],
});
