import { packageBuild } from "../../tsup.shared.ts";

// fetch-worker: the thread fetchLaionSubset runs in (resolved beside the built index)
export default packageBuild(["src/index.ts", "src/cli.ts", "src/fetch-worker.ts"]);
