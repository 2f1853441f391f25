#!/usr/bin/env node
// What failed in a CI step's log, compactly, for the end of .ci/run's output (a CI viewer often shows
// only the tail). Usage: node tools/scripts/ci-failures.mjs LOG [STEP]
// Nx prefixes every line of a task with "<project>: " (--outputStyle=stream) and lists the failed tasks
// at the end; each failed project's vitest sections (Failed Tests / Failed Suites / Unhandled Errors)
// are printed one block per failure, at most MAX_LINES lines each. Output that has no such sections (a
// lint or type error, a crashed worker, a step that is not nx) ends with its last MAX_LINES lines.
import { readFileSync } from "node:fs";

const MAX_LINES = 40;
// CSI sequences (colours, cursor moves) and OSC hyperlinks
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;
const SECTION = /^\s*⎯+ (Failed Tests|Failed Suites|Unhandled Errors?|Unhandled Rejection)\b.*⎯*\s*$/;
const BLOCK_END = /^\s*⎯+\[\d+\/\d+\]⎯\s*$/;
const SUMMARY = /^\s*(Test Files|Tests|Errors)\s{2}/;

/** @param {string} text @returns {string[]} the failed nx tasks' projects, in nx's order */
export function failedProjects(text) {
  const lines = text.split("\n");
  const at = lines.findIndex((l) => /^\s*Failed tasks:\s*$/.test(l));
  if (at < 0) return [];
  const projects = [];
  for (const line of lines.slice(at + 1)) {
    const m = /^\s*- (\S+):[\w-]+\s*$/.exec(line);
    if (m) projects.push(m[1]);
    else if (line.trim() !== "" && projects.length > 0) break;
  }
  return projects;
}

/** The lines nx printed for one project, without its "<project>: " prefix. */
function projectLines(lines, project) {
  const prefix = `${project}:`;
  return lines.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length).replace(/^ /, ""));
}

const cap = (block) =>
  block.length <= MAX_LINES
    ? block
    : [...block.slice(0, MAX_LINES), `… ${block.length - MAX_LINES} more lines`];

/** Vitest's failure blocks (each capped) and its summary lines, or null when the output has none. */
export function vitestFailures(lines) {
  const out = [];
  let block = null;
  let inSection = false;
  const flush = () => {
    while (block && block.length > 0 && block.at(-1).trim() === "") block.pop();
    if (block && block.length > 0) out.push(...cap(block), "");
    block = null;
  };
  for (const line of lines) {
    if (SECTION.test(line)) {
      flush();
      inSection = true;
      out.push(line.trim());
      block = [];
    } else if (SUMMARY.test(line)) {
      flush();
      inSection = false;
      out.push(line);
    } else if (inSection && BLOCK_END.test(line)) {
      flush();
      block = [];
    } else if (inSection && block && (block.length > 0 || line.trim() !== "")) block.push(line);
  }
  flush();
  if (!out.some((l) => SECTION.test(l))) return null;
  // the "×" lines of the run's listing carry each failed test's duration (a timeout shows there)
  const crosses = lines.filter((l) => /^\s*×\s/.test(l)).map((l) => l.trim());
  return [...(crosses.length > 0 ? ["failed (with durations):", ...crosses, ""] : []), ...out];
}

/** The summary to print at the end of a failed step's output. */
export function summarize(text, step = "step") {
  const lines = text.replace(ANSI, "").replace(/\r/g, "").split("\n");
  const projects = failedProjects(lines.join("\n"));
  const out = [`== failures of ${step}${projects.length > 0 ? `: ${projects.join(", ")}` : ""}`];
  const groups = projects.length > 0 ? projects.map((p) => [p, projectLines(lines, p)]) : [[step, lines]];
  for (const [name, own] of groups) {
    const failures = vitestFailures(own);
    const body = own.filter((l) => l.trim() !== "");
    out.push(`-- ${name}`, ...(failures ?? cap(body.slice(-MAX_LINES))), "");
  }
  return out.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [log, step] = process.argv.slice(2);
  if (!log) {
    console.error("usage: node tools/scripts/ci-failures.mjs LOG [STEP]");
    process.exit(2);
  }
  console.log(summarize(readFileSync(log, "utf8"), step));
}
