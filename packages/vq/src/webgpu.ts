// The webgpu backend on Dawn for Node (the `webgpu` npm package ships its dawn.node; nothing is
// downloaded at install) + @tensorflow/tfjs-backend-webgpu. Both are optional dependencies, loaded
// only when this backend is tried. Dawn runs on any Vulkan driver: a GPU's, or Mesa's software
// lavapipe ("llvmpipe"), which is slow (~1.4 GFLOP/s here) and so is used only when asked for by name.
// Unlike wasm, tfjs-backend-webgpu 4.22 has every kernel the VQ and transformer training graphs use
// (test/webgpu-kernels.test.ts checks the list and the gradient kernels' values against cpu), so
// nothing is registered here.
import type * as tfType from "./tfjs.js";

type Tf = typeof tfType;

/** What the adapter says about itself (WebGPU's GPUAdapterInfo). */
export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

/** The two limits that bound the largest tensor one buffer can hold. */
export interface BufferLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export interface WebGpuDevice {
  info: AdapterInfo;
  software: boolean;
  /** Limits granted to the device: what the adapter offers, not WebGPU's defaults (128 MiB / 256 MiB). */
  limits: BufferLimits;
}

// The few WebGPU shapes used here (the full types live in @webgpu/types, which the checker need not see).
interface Adapter {
  info: AdapterInfo;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(descriptor: {
    requiredFeatures: string[];
    requiredLimits: Record<string, number>;
  }): Promise<GpuDevice>;
}
interface GpuDevice {
  limits: Record<string, number>;
  lost: Promise<{ message: string }>;
}
interface Gpu {
  requestAdapter(options: { powerPreference: "high-performance" }): Promise<Adapter | null>;
}

/**
 * Limits tfjs-backend-webgpu raises (as its own registration does), taken up to what the adapter
 * offers: the storage-buffer pair bounds tensor size, the workgroup ones bound its kernels' tiling.
 */
const RAISED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeWorkgroupsPerDimension",
  "maxComputeWorkgroupSizeX",
  "maxComputeInvocationsPerWorkgroup",
] as const;

/** Software rasterisers: Mesa's llvmpipe/lavapipe, SwiftShader, and what the adapter itself calls software or CPU. */
export function isSoftwareAdapter(info: AdapterInfo): boolean {
  const arch = info.architecture.toLowerCase();
  if (arch === "software" || arch === "cpu") return true;
  return /llvmpipe|lavapipe|swiftshader|software/i.test(`${info.description} ${info.device}`);
}

/** "llvmpipe (mesa, software)": for logs and the dry run. */
export function describeAdapter(info: AdapterInfo): string {
  const name = info.description || info.device || "unnamed adapter";
  const tags = [info.vendor, info.architecture].filter(Boolean);
  return tags.length ? `${name} (${tags.join(", ")})` : name;
}

/** The largest tensor (bytes) a webgpu buffer can hold on a device with these limits. */
export function maxTensorBytes(limits: BufferLimits): number {
  return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

const NO_ADAPTER =
  "Dawn found no WebGPU adapter: no Vulkan driver it accepts is installed. Install your GPU's Vulkan " +
  "driver, or Mesa's software one for tests (tools/scripts/install-vulkan.sh; Debian bookworm needs " +
  "mesa-vulkan-drivers from bookworm-backports, its own 22.3 is refused)";

/**
 * Create the Dawn instance, pick the adapter, request a device with the adapter's limits and make
 * "webgpu" the tfjs backend. `allowSoftware`: accept a software adapter (only when asked for by name).
 */
export async function activateWebGpu(tf: Tf, params: { allowSoftware: boolean }): Promise<WebGpuDevice> {
  const dawn = (await import("webgpu")) as unknown as {
    create(flags: string[]): Gpu;
    globals: Record<string, unknown>;
  };
  // tfjs-backend-webgpu reads GPUBufferUsage & co. and navigator.gpu from the global scope.
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator === undefined) g.navigator = { gpu };
  else Object.defineProperty(g.navigator, "gpu", { value: gpu, configurable: true });

  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error(NO_ADAPTER);
  const info = adapter.info;
  const software = isSoftwareAdapter(info);
  if (software && !params.allowSoftware) {
    throw new Error(
      `the only WebGPU adapter is software (${describeAdapter(info)}), far slower than wasm; ` +
        "it is used only with --backend webgpu",
    );
  }
  const requiredLimits: Record<string, number> = {};
  for (const k of RAISED_LIMITS) if (adapter.limits[k] !== undefined) requiredLimits[k] = adapter.limits[k];
  const requiredFeatures = ["timestamp-query"].filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  void device.lost.then((l) => {
    // a lost device fails every later op with an opaque message; say why once
    if (l.message) process.emitWarning(`WebGPU device lost: ${l.message}`);
  });

  const { WebGPUBackend } = (await import("@tensorflow/tfjs-backend-webgpu")) as unknown as {
    WebGPUBackend: new (device: GpuDevice, info: AdapterInfo) => tfType.KernelBackend;
  };
  // the package registered its own factory on import (it picks the adapter itself): replace it
  if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  tf.registerBackend("webgpu", () => new WebGPUBackend(device, info));
  if (!(await tf.setBackend("webgpu"))) throw new Error("the webgpu backend did not initialise");
  return {
    info,
    software,
    limits: {
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize ?? 0,
      maxBufferSize: device.limits.maxBufferSize ?? 0,
    },
  };
}
