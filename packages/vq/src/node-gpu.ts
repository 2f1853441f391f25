// tfjs-node-gpu that cannot lie. @tensorflow/tfjs-node-gpu 4.22 is libtensorflow 2.9.1, built for
// CUDA 11.2 + cuDNN 8.1. When those user-space libraries are missing (any CUDA 12 image, Kaggle's
// included) TensorFlow logs "Could not load dynamic library 'libcudart.so.11.0'" and quietly runs
// every op on the CPU (tfjs issues #8362, #8269, #8187). So after loading it we ask TensorFlow whether
// it placed its context on a GPU, and stop with the missing libraries and the fix when it did not.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

/** The shared libraries libtensorflow 2.9 dlopens for the GPU (sonames), with the pip wheel that ships each. */
export const CUDA_LIBRARIES: readonly { soname: string; wheel: string }[] = [
  { soname: "libcuda.so.1", wheel: "(the NVIDIA driver, not a wheel)" },
  { soname: "libcudart.so.11.0", wheel: "nvidia-cuda-runtime-cu11" },
  { soname: "libcublas.so.11", wheel: "nvidia-cublas-cu11" },
  { soname: "libcublasLt.so.11", wheel: "nvidia-cublas-cu11" },
  { soname: "libcufft.so.10", wheel: "nvidia-cufft-cu11" },
  { soname: "libcurand.so.10", wheel: "nvidia-curand-cu11" },
  { soname: "libcusolver.so.11", wheel: "nvidia-cusolver-cu11" },
  { soname: "libcusparse.so.11", wheel: "nvidia-cusparse-cu11" },
  { soname: "libcudnn.so.8", wheel: "nvidia-cudnn-cu11==8.6.0.163" },
];

/** What the check looks at; every field can be injected (tests have no GPU and no tfjs-node-gpu). */
export interface NodeGpuFacts {
  /** The tensorflow backend's own answer: did TFE_ContextListDevices include a GPU? */
  usingGpuDevice: boolean | undefined;
  /** LD_LIBRARY_PATH. */
  ldLibraryPath?: string;
  /** `ldconfig -p` output (the dynamic linker's cache). */
  ldconfig?: string;
  /** Whether a file exists (for the LD_LIBRARY_PATH folders). */
  exists?: (file: string) => boolean;
}

/** Sonames from CUDA_LIBRARIES the dynamic linker cannot find (LD_LIBRARY_PATH, then its cache). */
export function missingCudaLibraries(facts: NodeGpuFacts): string[] {
  const exists = facts.exists ?? existsSync;
  const dirs = (facts.ldLibraryPath ?? "").split(":").filter(Boolean);
  const cached = new Set(
    (facts.ldconfig ?? "")
      .split("\n")
      .map((l) => l.trim().split(" ")[0])
      .filter((s): s is string => Boolean(s)),
  );
  return CUDA_LIBRARIES.map((l) => l.soname).filter(
    (so) => !cached.has(so) && !dirs.some((d) => exists(path.join(d, so))),
  );
}

/** The error that replaces a silent CPU fallback: what is missing and how to provide it. */
export function noGpuMessage(missing: string[]): string {
  const wheels = [
    ...new Set(
      CUDA_LIBRARIES.filter((l) => missing.includes(l.soname) && l.wheel.startsWith("nvidia-")).map(
        (l) => l.wheel,
      ),
    ),
  ];
  const lines = [
    "@tensorflow/tfjs-node-gpu loaded, but TensorFlow placed no op on a GPU: it would train on the CPU.",
    "It is libtensorflow 2.9, built for CUDA 11.2 + cuDNN 8.1 (CUDA 12 libraries do not satisfy it).",
    missing.length
      ? `Missing: ${missing.join(", ")}.`
      : "Every CUDA 11 library was found, so the GPU itself is not visible (driver, CUDA_VISIBLE_DEVICES, or a CPU-only machine).",
  ];
  if (missing.includes("libcuda.so.1"))
    lines.push("libcuda.so.1 comes with the NVIDIA driver: this machine has none.");
  if (wheels.length) {
    lines.push(
      `Fix: pip install ${wheels.join(" ")}, then add each wheel's lib folder to LD_LIBRARY_PATH`,
      '  (e.g. export LD_LIBRARY_PATH=$(python3 -c "import nvidia,os;p=os.path.dirname(nvidia.__path__[0]);' +
        "print(':'.join(os.path.join(p,'nvidia',d,'lib') for d in os.listdir(os.path.join(p,'nvidia'))))\"):$LD_LIBRARY_PATH)",
    );
  }
  lines.push("Or train on the GPU through Vulkan with --backend webgpu, or on the CPU with --backend wasm.");
  return lines.join("\n");
}

/** Throws noGpuMessage unless TensorFlow reports a GPU device. */
export function assertNodeGpu(facts: NodeGpuFacts): void {
  if (facts.usingGpuDevice === true) return;
  throw new Error(noGpuMessage(missingCudaLibraries(facts)));
}

/** The real facts of this process: the backend's device answer, LD_LIBRARY_PATH and ldconfig's cache. */
export function nodeGpuFacts(backend: unknown): NodeGpuFacts {
  let ldconfig = "";
  try {
    ldconfig = execFileSync("ldconfig", ["-p"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    // no ldconfig (minimal images): LD_LIBRARY_PATH alone decides
  }
  return {
    usingGpuDevice: (backend as { isUsingGpuDevice?: boolean }).isUsingGpuDevice,
    ldLibraryPath: process.env.LD_LIBRARY_PATH,
    ldconfig,
  };
}
