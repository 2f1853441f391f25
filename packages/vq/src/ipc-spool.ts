// Large typed arrays between the trainer and its device processes go through files in memory, not the
// IPC pipe. A child's IPC channel serialises every message and pushes it through a 64 KiB pipe on both
// event loops: ~0.3 GiB/s on this machine, so the `base` trainer preset's weights out and gradients back
// (864 MiB each) took 5.6 s a step. Written to a file on /dev/shm (tmpfs) and read back into memory
// used before (releaseSpooled), each costs a copy out and a copy in: 1.3 s a step
// (tools/bench/ipc.bench.mjs). The message carries only where each array is. The receiver removes the
// file once read; the pool removes its folder when it closes, and the next pool removes the folders of
// processes that have died.
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

// Memory that received arrays were read into, handed back by their consumer (releaseSpooled), by byte
// length: the next array of that size is read into it. Fresh memory is paid for in page faults on
// first touch — reading 864 MiB into a new buffer took 0.55–1.4 s here, into one used before 0.23 s.
const released = new Map<number, ArrayBuffer[]>();
const KEEP_PER_SIZE = 2;
// the buffers spoolIn made and nobody has released: only these may be released (once)
const delivered = new WeakSet<ArrayBuffer>();

/**
 * Hands back an array spoolIn delivered, once its consumer is done with it (the helper has set its
 * variables from the weights; the trainer has summed a helper's gradients): the next array of its size
 * is read into the same memory. Anything else is ignored.
 */
export function releaseSpooled(a: ArrayBufferView): void {
  const buffer = a.buffer as ArrayBuffer;
  if (!delivered.has(buffer)) return;
  delivered.delete(buffer);
  const list = released.get(buffer.byteLength) ?? [];
  if (list.length < KEEP_PER_SIZE) list.push(buffer);
  released.set(buffer.byteLength, list);
}

function readSpooled(s: Spooled): ArrayBufferView {
  const Ctor = TYPES[s.type];
  const bytes = s.length * Ctor.BYTES_PER_ELEMENT;
  const buffer = released.get(bytes)?.pop() ?? new ArrayBuffer(bytes);
  const view = new Uint8Array(buffer);
  const fd = fs.openSync(s.file, "r");
  try {
    for (let at = 0; at < bytes; ) {
      const n = fs.readSync(fd, view, at, Math.min(bytes - at, 1 << 30), at);
      if (n === 0) throw new Error(`${s.file}: ${at} of ${bytes} bytes (the sender's file is short)`);
      at += n;
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(s.file, { force: true });
  }
  delivered.add(buffer);
  return new Ctor(buffer, 0, s.length);
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
