import { packageBuild } from "../../tsup.shared.ts";

// vq-worker: the data-parallel trainer's worker thread, started by file (dist/vq-worker.js)
export default packageBuild(["src/index.ts", "src/cli.ts", "src/cli-encode.ts", "src/vq-worker.ts"]);
