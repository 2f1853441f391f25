// The dependency check every package.test.ts runs (packageShapeProblems): each way of importing is
// seen, and an undeclared, unused or pinned dependency is named.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, test } from "vitest";
import { dependencyProblems, packageOf, scanSources } from "../src/package-shape.js";

const src = fs.mkdtempSync(path.join(os.tmpdir(), "package-shape-"));
afterAll(() => fs.rmSync(src, { recursive: true, force: true }));
fs.mkdirSync(path.join(src, "sub"));
fs.writeFileSync(
  path.join(src, "a.ts"),
  [
    'import fs from "node:fs";',
    'import path from "path";',
    'import { x } from "static-dep";',
    'import type { T } from "@scope/typed/sub/path";',
    'import "side-effect";',
    'export * from "./local.js";',
    'const lazy = await import("lazy-dep");',
    'const old = require("cjs-dep");',
    'const fonts = requireCjs("font-tool");',
    'const font = createRequire(import.meta.url).resolve("@fonts/sinhala/files/x.woff2");',
    'const hint = "npm install @tensorflow/tfjs-node";',
  ].join("\n"),
);
fs.writeFileSync(path.join(src, "sub", "b.ts"), 'export { y } from "@laion/mixer";\n');
fs.writeFileSync(path.join(src, "ambient.d.ts"), 'declare module "only-declared" {}\nimport "nope";\n');

test("every import form names its package; relative, node: and builtin imports and .d.ts files do not", () => {
  const { imported } = scanSources(src);
  expect([...imported.keys()].sort()).toEqual(
    [
      "@fonts/sinhala",
      "@laion/mixer",
      "@scope/typed",
      "cjs-dep",
      "font-tool",
      "lazy-dep",
      "side-effect",
      "static-dep",
    ].sort(),
  );
  expect(imported.get("@laion/mixer")).toEqual([path.join("src", "sub", "b.ts")]);
  expect(packageOf("@scope/name/deep/file.js")).toBe("@scope/name");
  expect(packageOf("./x.js")).toBeNull();
});

test("undeclared, unused and pinned dependencies are named; ranges, workspace pins and named optional peers pass", () => {
  const scan = scanSources(src);
  const problems = dependencyProblems(
    {
      dependencies: {
        "static-dep": "^1.0.0",
        "@scope/typed": "~2.1.0",
        "side-effect": ">=3",
        "lazy-dep": "^1.0.0",
        "cjs-dep": "1.2.3",
        "@laion/mixer": "0.1.0",
        "@fonts/sinhala": "^5.0.0",
        "font-tool": "^2.9.0",
        "test-only": "^1.0.0",
      },
      peerDependencies: { "@tensorflow/tfjs-node": "^4.22.0", "@tensorflow/tfjs-node-gpu": "^4.22.0" },
      peerDependenciesMeta: { "@tensorflow/tfjs-node": { optional: true } },
    },
    scan,
  );
  expect(problems).toEqual([
    "cjs-dep is pinned to 1.2.3: declare a range such as ^1.2.3",
    "test-only is a dependency, but nothing in src/ imports it (a devDependency, or unused?)",
    // a required peer must be imported; naming it in a string is enough only for an optional one
    "@tensorflow/tfjs-node-gpu is a dependency, but nothing in src/ imports it (a devDependency, or unused?)",
  ]);
  expect(dependencyProblems({ dependencies: {} }, scan)).toContain(
    "src/a.ts imports static-dep, which is not a declared dependency",
  );
});
