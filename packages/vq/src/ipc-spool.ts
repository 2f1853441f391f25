// Large typed arrays between the trainer and its device processes go through files in memory, not the
// IPC pipe. A child's IPC channel serialises every message and pushes it through a 64 KiB pipe on both
// event loops: ~0.3 GiB/s on this machine, so the `base` trainer preset's weights out and gradients back
// (954 MiB each) cost 6–10 s a step, longer than a T4 takes for the step itself. Written to a file on
// /dev/shm (tmpfs) and read back, each costs a copy out and a copy in (tools/bench/ipc.bench.mjs); the
// message carries only where each array is. The receiver removes the file once read; the pool removes
// its folder when it closes, and the next pool removes the folders of processes that have died.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** Typed arrays smaller than this go inline: for them the pipe is cheaper than a file's syscalls. */
export const SPOOL_MIN_BYTES = 1 << 20;

/** The environment variable that names a child's spool folder (set by the pool that forks it). */
export const SPOOL_ENV = "LAION_IPC_SPOOL";

const PREFIX = "laion-ipc-";
const MARK = "__laionSpooled";
// /dev/shm smaller than this (Docker gives 64 MiB by default) is passed over for the temp folder
const MIN_SHM_FREE = 2 * 2 ** 30;

const TYPES = {
  Float32Array,
  Float64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  Uint8Array,
  Uint16Array,
  Uint32Array,
} as const;
type TypeName = keyof typeof TYPES;

interface Spooled {
  [MARK]: true;
  file: string;
  type: TypeName;
  length: number;
}

/** Where a pool's spool folders go: /dev/shm when it has room (memory), else the OS temp folder. */
export function spoolRoot(): string {
  try {
    const s = fs.statfsSync("/dev/shm");
    if (s.bavail * s.bsize >= MIN_SHM_FREE) return "/dev/shm";
  } catch {
    // no /dev/shm (not Linux)
  }
  return os.tmpdir();
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * A new spool folder for this process's device helpers, `laion-ipc-<pid>-…` under `root`; the folders
 * that processes now dead left there (a crashed trainer's) are removed first: on /dev/shm they hold memory.
 */
export function openSpool(root = spoolRoot()): string {
  for (const name of fs.readdirSync(root)) {
    const pid = Number(/^laion-ipc-(\d+)-/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !alive(pid))
      fs.rmSync(path.join(root, name), { recursive: true, force: true });
  }
  return fs.mkdtempSync(path.join(root, `${PREFIX}${process.pid}-`));
}

export function closeSpool(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

let written = 0;

/**
 * `message` with each typed array of SPOOL_MIN_BYTES or more (in plain objects and arrays, at any
 * depth) written to a file in `dir` and replaced by where it is. An array that cannot be written
 * (the folder full) stays inline.
 */
export function spoolOut(message: unknown, dir: string): unknown {
  return mapArrays(message, (a) => {
    const type = a.constructor.name as TypeName;
    if (a.byteLength < SPOOL_MIN_BYTES || TYPES[type] === undefined) return a;
    const file = path.join(dir, `${process.pid}-${written++}.bin`);
    try {
      fs.writeFileSync(file, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    } catch {
      fs.rmSync(file, { force: true });
      return a;
    }
    const spooled: Spooled = { [MARK]: true, file, type, length: (a as Float32Array).length };
    return spooled;
  });
}

/** `message` with each spooled array read back (and its file removed). */
export function spoolIn(message: unknown): unknown {
  return mapArrays(message, (a) => a);
}

function readSpooled(s: Spooled): ArrayBufferView {
  const bytes = fs.readFileSync(s.file);
  fs.rmSync(s.file, { force: true });
  const Ctor = TYPES[s.type];
  // a large file's Buffer starts its own ArrayBuffer; a misaligned one is copied
  if (bytes.byteOffset % Ctor.BYTES_PER_ELEMENT === 0)
    return new Ctor(bytes.buffer, bytes.byteOffset, s.length);
  return new Ctor(new Uint8Array(bytes).buffer, 0, s.length);
}

/** Each typed array mapped by `f`, each spooled one read back; plain objects and arrays copied, the rest kept. */
function mapArrays(v: unknown, f: (a: ArrayBufferView) => unknown): unknown {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return f(v);
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => mapArrays(x, f));
  if (Object.getPrototypeOf(v) !== Object.prototype) return v;
  if ((v as Partial<Spooled>)[MARK] === true) return readSpooled(v as Spooled);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = mapArrays(x, f);
  return out;
}
