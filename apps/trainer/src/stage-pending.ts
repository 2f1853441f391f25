import type { Stage } from "./stage.js";

/**
 * A stage whose package API has not landed yet: planned like the others, fails with a message naming
 * what is missing when run. Removed once every package is wired.
 */
export function pendingStage(name: string, missing: string, outputs: string[]): Stage {
  return {
    name,
    describe: () => `(not wired yet: needs ${missing})`,
    outputs: () => outputs,
    command: () => `(needs ${missing})`,
    check: async () => ({ complete: false, partial: false, detail: `needs ${missing}` }),
    run: async () => {
      throw new Error(`not available yet: ${missing}`);
    },
  };
}
