import { describe, expect, test } from "vitest";
import { assertNodeGpu, CUDA_LIBRARIES, missingCudaLibraries, noGpuMessage } from "../src/node-gpu.js";

// tfjs-node-gpu cannot be installed here (its install downloads libtensorflow) and there is no GPU,
// so the decision is tested on injected facts: TensorFlow's device answer, LD_LIBRARY_PATH, ldconfig.

const ALL = CUDA_LIBRARIES.map((l) => l.soname);
/** `ldconfig -p` lines for these sonames, as the real tool prints them. */
const ldconfig = (sonames: string[]) =>
  `${sonames.length} libs found in cache \`/etc/ld.so.cache'\n${sonames
    .map((s) => `\t${s} (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/${s}`)
    .join("\n")}\n`;

describe("tfjs-node-gpu must prove it runs on a GPU", () => {
  test("a GPU device reported by TensorFlow passes", () => {
    expect(() => assertNodeGpu({ usingGpuDevice: true, ldconfig: ldconfig(ALL) })).not.toThrow();
  });

  test("Kaggle's CUDA 12 image: driver present, CUDA 11 runtime and cuDNN 8 missing → error names them and the wheels", () => {
    const cuda12 = ["libcuda.so.1", "libcudart.so.12", "libcublas.so.12", "libcudnn.so.9"];
    const run = () => assertNodeGpu({ usingGpuDevice: false, ldconfig: ldconfig(cuda12), ldLibraryPath: "" });
    expect(run).toThrow(/would train on the CPU/);
    expect(run).toThrow(/Missing: libcudart\.so\.11\.0, libcublas\.so\.11, .*libcudnn\.so\.8\./);
    expect(run).toThrow(/pip install nvidia-cuda-runtime-cu11 nvidia-cublas-cu11 .*nvidia-cudnn-cu11==8/);
    expect(run).toThrow(/LD_LIBRARY_PATH/);
    expect(run).not.toThrow(/libcuda\.so\.1 comes with the NVIDIA driver/);
  });

  test("an undefined answer (an older binding) is not taken as a GPU", () => {
    expect(() => assertNodeGpu({ usingGpuDevice: undefined, ldconfig: ldconfig(ALL) })).toThrow(
      /Every CUDA 11 library was found, so the GPU itself is not visible/,
    );
  });

  test("no driver at all: says the machine has none", () => {
    expect(noGpuMessage(["libcuda.so.1"])).toMatch(/comes with the NVIDIA driver: this machine has none/);
    // the driver is no pip wheel: no pip line for it alone
    expect(noGpuMessage(["libcuda.so.1"])).not.toMatch(/pip install/);
  });

  test("libraries on LD_LIBRARY_PATH (pip wheels' lib folders) count as found", () => {
    const files = new Set(["/opt/w/cudnn/lib/libcudnn.so.8", "/opt/w/rt/lib/libcudart.so.11.0"]);
    const missing = missingCudaLibraries({
      usingGpuDevice: false,
      ldLibraryPath: "/opt/w/cudnn/lib::/opt/w/rt/lib",
      ldconfig: ldconfig(["libcuda.so.1"]),
      exists: (f) => files.has(f),
    });
    expect(missing).not.toContain("libcudnn.so.8");
    expect(missing).not.toContain("libcudart.so.11.0");
    expect(missing).not.toContain("libcuda.so.1");
    expect(missing).toContain("libcublas.so.11");
  });

  test("a CUDA 12 soname does not satisfy the CUDA 11 one (prefix match would)", () => {
    expect(
      missingCudaLibraries({ usingGpuDevice: false, ldconfig: ldconfig(["libcudart.so.12"]) }),
    ).toContain("libcudart.so.11.0");
  });
});
