import { packageBuild } from "../../tsup.shared.ts";

// @laion/test-servers is a private workspace package shipped as TypeScript source (no dist): the
// demo needs its servers at run time, so they are bundled into the app's dist. The app is private
// and run, never required, so it is ESM only (it finds the checkout through import.meta.url).
export default packageBuild(
  ["src/index.ts", "src/cli.ts"],
  { noExternal: ["@laion/test-servers"] },
  { commonjs: false },
);
