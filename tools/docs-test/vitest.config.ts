import { defineProject, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

// The docs test: README.md, packages/*/README.md, apps/*/README.md and docs/*.md (see test/docs.test.ts).
export default mergeConfig(shared, defineProject({ test: { name: "docs-test" } }));
