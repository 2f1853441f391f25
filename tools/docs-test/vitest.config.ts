import { defineProject, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared.ts";

// The docs test: README.md, packages/*/README.md, apps/*/README.md and docs/*.md (see test/docs.test.ts).
// Three CLI parse checks at a time: each is a node process that spends its time loading modules.
export default mergeConfig(shared, defineProject({ test: { name: "docs-test", maxConcurrency: 3 } }));
