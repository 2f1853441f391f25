// Prints the adapter Dawn (the `webgpu` npm package) gets on this machine; exit 1 when there is none.
// Used by install-vulkan.sh to decide whether a driver has to be installed.
import { create } from "webgpu";

const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
if (!adapter) {
  console.error("probe-webgpu: Dawn found no adapter (no Vulkan driver it accepts)");
  process.exit(1);
}
const { vendor, architecture, device, description } = adapter.info;
console.log(`probe-webgpu: ${description || device} (vendor ${vendor}, architecture ${architecture})`);
