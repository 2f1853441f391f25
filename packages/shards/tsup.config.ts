import { packageBuild } from "../../tsup.shared.ts";

export default packageBuild(["src/index.ts", "src/download-cli.ts", "src/cli.ts"]);
