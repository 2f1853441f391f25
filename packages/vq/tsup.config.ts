import { packageBuild } from "../../tsup.shared.ts";

// vq-worker: the data-parallel trainer's worker thread, started by file (dist/vq-worker.js).
// tfjs-core's gradient and chained-op registrations are ESM files Node cannot load from
// node_modules (extensionless imports): they are bundled (see src/tfjs.ts).
export default packageBuild(["src/index.ts", "src/cli.ts", "src/cli-encode.ts", "src/vq-worker.ts"], {
  noExternal: [/^@tensorflow\/tfjs-core\/dist\//],
});
