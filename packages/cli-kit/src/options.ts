import { InvalidArgumentError } from "commander";

export interface RangeParams {
  min?: number;
  max?: number;
}

function rangeText({ min, max }: RangeParams): string {
  if (min !== undefined && max !== undefined) return `between ${min} and ${max}`;
  if (min !== undefined) return `>= ${min}`;
  if (max !== undefined) return `<= ${max}`;
  return "a number";
}

function checkRange(flag: string, raw: string, value: number, range: RangeParams, kind: string): number {
  if (
    !Number.isFinite(value) ||
    (range.min !== undefined && value < range.min) ||
    (range.max !== undefined && value > range.max)
  )
    throw new InvalidArgumentError(`${flag} must be ${kind} ${rangeText(range)}, got "${raw}"`);
  return value;
}

/** A commander argParser for an integer flag: `--max-samples abc` fails with a message naming the flag and the allowed range. */
export function intOption(flag: string, range: RangeParams = {}): (raw: string) => number {
  return (raw) => {
    const value = /^[-+]?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
    return checkRange(flag, raw, value, range, "an integer");
  };
}

/** A commander argParser for a number flag, e.g. `--laion-prob 1.5` → "--laion-prob must be a number between 0 and 1". */
export function floatOption(flag: string, range: RangeParams = {}): (raw: string) => number {
  return (raw) => {
    const value = raw.trim() === "" ? Number.NaN : Number(raw);
    return checkRange(flag, raw, value, range, "a number");
  };
}

/** A commander argParser for a boolean flag given a value (`--disallow-robots-header false`). */
export function boolOption(flag: string): (raw: string) => boolean {
  return (raw) => {
    const v = raw.trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(v)) return true;
    if (["false", "0", "no", "off"].includes(v)) return false;
    throw new InvalidArgumentError(`${flag} must be true or false, got "${raw}"`);
  };
}
