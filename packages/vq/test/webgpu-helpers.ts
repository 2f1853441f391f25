import { selectBackend } from "../src/index.js";

/**
 * Whether the webgpu backend starts here (Dawn + a Vulkan driver, software ones included). CI installs
 * lavapipe (tools/scripts/install-vulkan.sh), so there a missing adapter is a failure, not a skip.
 */
export async function webgpuAvailable(): Promise<boolean> {
  try {
    await selectBackend({ prefer: "webgpu" });
    return true;
  } catch (err) {
    if (process.env.CI) throw err;
    console.warn(`webgpu tests skipped: ${(err as Error).message.split("\n")[0]}`);
    return false;
  }
}
