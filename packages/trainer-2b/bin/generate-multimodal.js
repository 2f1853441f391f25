#!/usr/bin/env node
// Committed so npm links it at `npm ci` time (before dist/ exists); runs the built CLI.
import { launch } from "@laion/cli-kit/launch";

await launch(new URL("../dist/cli-generate.js", import.meta.url), "generate-multimodal");
