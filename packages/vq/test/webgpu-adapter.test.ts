import { describe, expect, test } from "vitest";
import { selectBackend } from "../src/index.js";
import { describeAdapter, isSoftwareAdapter, maxTensorBytes } from "../src/webgpu.js";

// What real adapters report (GPUAdapterInfo): Mesa's lavapipe as measured here, the others as Dawn
// reports them on Vulkan.
const llvmpipe = {
  vendor: "mesa",
  architecture: "software",
  device: "",
  description: "llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1",
};
const t4 = { vendor: "nvidia", architecture: "turing", device: "", description: "Tesla T4" };
const swiftshader = {
  vendor: "google",
  architecture: "",
  device: "",
  description: "SwiftShader Device (Subzero)",
};

describe("webgpu adapter decisions", () => {
  test("software adapters are recognised; a GPU is not", () => {
    expect(isSoftwareAdapter(llvmpipe)).toBe(true);
    expect(isSoftwareAdapter(swiftshader)).toBe(true);
    expect(isSoftwareAdapter({ ...llvmpipe, architecture: "" })).toBe(true);
    expect(isSoftwareAdapter(t4)).toBe(false);
  });

  test("the adapter is named for logs", () => {
    expect(describeAdapter(t4)).toBe("Tesla T4 (nvidia, turing)");
    expect(describeAdapter({ vendor: "", architecture: "", device: "", description: "" })).toBe(
      "unnamed adapter",
    );
  });

  test("the largest tensor is bounded by the smaller of the two buffer limits", () => {
    expect(maxTensorBytes({ maxStorageBufferBindingSize: 2 ** 27, maxBufferSize: 2 ** 32 - 1 })).toBe(
      2 ** 27,
    );
    expect(maxTensorBytes({ maxStorageBufferBindingSize: 2 ** 31, maxBufferSize: 2 ** 30 })).toBe(2 ** 30);
  });
});

test("the auto chain never lands on a software adapter, and says why it skipped each backend", async () => {
  const { name, device } = await selectBackend();
  if (name === "webgpu") expect(device.software).toBe(false);
  else expect(device.reason).toMatch(/webgpu: /);
  // not installed here: named, not a stack of resolver paths
  if (name !== "tfjs-node-gpu")
    expect(device.reason).toMatch(/tfjs-node-gpu: not installed|first in the chain/);
});
