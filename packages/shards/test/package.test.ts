import path from "node:path";
import { fileURLToPath } from "node:url";
import { packageShapeProblems } from "@laion/test-servers";
import { expect, test } from "vitest";

test("package.json is fit to publish and src imports only declared dependencies", () => {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  expect(packageShapeProblems(dir)).toEqual([]);
});
