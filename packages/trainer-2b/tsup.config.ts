import { packageBuild } from "../../tsup.shared.ts";

export default packageBuild([
  "src/index.ts",
  "src/cli-train.ts",
  "src/cli-tokenizer.ts",
  "src/cli-generate.ts",
]);
