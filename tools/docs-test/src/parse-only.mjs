// Preloaded (`node --import`) into a CLI by the docs test: the CLI parses its arguments with its
// own commander program — unknown flags, missing values and values its parsers reject fail as
// they would for a user — and then, instead of running, prints `parsed {options}` and exits 0.
// Every @laion bin uses the workspace's one commander, so patching its prototype reaches them all.
import { createRequire } from "node:module";

const require = createRequire(`${process.env.LAION_PARSE_ONLY_ROOT}/package.json`);
const { Command } = require("commander");

const parsed = (command) => {
  process.stdout.write(`parsed ${JSON.stringify({ command: command.name(), options: command.opts() })}\n`);
  process.exit(0);
};
const action = Command.prototype.action;
Command.prototype.action = function (_fn) {
  return action.call(this, function () {
    parsed(this);
  });
};
const parse = Command.prototype.parse;
Command.prototype.parse = function (...args) {
  const result = parse.apply(this, args);
  parsed(this); // a program without action handlers: parsing is done when parse() returns
  return result;
};
const parseAsync = Command.prototype.parseAsync;
Command.prototype.parseAsync = async function (...args) {
  const result = await parseAsync.apply(this, args);
  parsed(this);
  return result;
};
