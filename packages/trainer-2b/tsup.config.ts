import { packageBuild } from "../../tsup.shared.ts";

// grad-worker: the data-parallel trainer's worker thread, started by file (dist/grad-worker.js)
export default packageBuild([
  "src/index.ts",
  "src/cli-train.ts",
  "src/cli-tokenizer.ts",
  "src/cli-generate.ts",
  "src/grad-worker.ts",
]);
