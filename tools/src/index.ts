export { FIXTURES_DIR, fixturePath } from "./fixtures.js";
export { packageShapeProblems } from "./package-shape.js";
