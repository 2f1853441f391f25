import cliProgress from "cli-progress";

export interface ProgressParams {
  /** What is being counted, e.g. "rows" or "images"; shown on the bar and in each JSON line. */
  label: string;
  /** Known total, when there is one (a bar with ETA on a TTY). */
  total?: number;
  /** Unit of one tick, for the rate ("rows/s"). Defaults to the label. */
  unit?: string;
  /** Force JSON lines (true) or a bar (false). Default: bar when `stream` is a TTY. */
  json?: boolean;
  /** Where progress goes. Default process.stderr, so stdout stays clean for data. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Minimum milliseconds between two JSON progress lines. */
  intervalMs?: number;
  /** Clock, injectable for tests. */
  now?: () => number;
}

export type ProgressFields = Record<string, number | string | boolean | null>;

export interface Progress {
  /** Count `n` more units done, and optionally update the extra fields shown. */
  tick(n?: number, fields?: ProgressFields): void;
  /** Update the extra fields (loss, success rate …) without counting. */
  update(fields: ProgressFields): void;
  /** A message that must not be torn by the bar. */
  log(message: string): void;
  /** Stop the bar and print a final summary line. */
  done(summary?: Record<string, unknown>): void;
  /** Units counted so far. */
  readonly count: number;
}

function formatField(value: ProgressFields[string]): string {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  return String(value);
}

/**
 * A progress reporter that suits where it runs: an interactive bar with rate and ETA on a TTY,
 * throttled JSON lines (`{"event":"progress",...}`) otherwise, so logs of long runs on clusters
 * stay machine-readable.
 */
export function createProgress(params: ProgressParams): Progress {
  const stream = params.stream ?? process.stderr;
  const json = params.json ?? !stream.isTTY;
  const now = params.now ?? Date.now;
  const unit = params.unit ?? params.label;
  const intervalMs = params.intervalMs ?? 2000;
  const started = now();
  let count = 0;
  let fields: ProgressFields = {};
  let lastEmit = Number.NEGATIVE_INFINITY;

  const rate = () => {
    const seconds = (now() - started) / 1000;
    return seconds > 0 ? count / seconds : 0;
  };
  const extras = () =>
    Object.entries(fields)
      .map(([k, v]) => `${k}=${formatField(v)}`)
      .join(" ");

  let bar: cliProgress.SingleBar | undefined;
  if (!json) {
    const total = params.total ? "{bar} {percentage}% {value}/{total} ETA {eta_formatted}" : "{value}";
    bar = new cliProgress.SingleBar(
      {
        stream: stream as NodeJS.WriteStream,
        format: `${params.label} ${total} | {rate} ${unit}/s {extras}`,
        hideCursor: false,
        etaBuffer: 50,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(params.total ?? 0, 0, { rate: "0", extras: "" });
  }

  const emitJson = (event: string, extra: Record<string, unknown> = {}) => {
    const line = {
      event,
      label: params.label,
      count,
      ...(params.total !== undefined ? { total: params.total } : {}),
      rate: Number(rate().toFixed(2)),
      elapsed_s: Number(((now() - started) / 1000).toFixed(3)),
      ...fields,
      ...extra,
    };
    stream.write(`${JSON.stringify(line)}\n`);
  };

  const refresh = (force = false) => {
    if (bar) {
      bar.update(count, { rate: rate().toFixed(1), extras: extras() });
      return;
    }
    const t = now();
    if (force || t - lastEmit >= intervalMs) {
      lastEmit = t;
      emitJson("progress");
    }
  };

  return {
    tick(n = 1, more) {
      count += n;
      if (more) fields = { ...fields, ...more };
      refresh();
    },
    update(more) {
      fields = { ...fields, ...more };
      refresh();
    },
    log(message) {
      if (bar) {
        // cli-progress redraws on the current line: clear it so the message stands on its own.
        stream.write(`\r\x1b[K${message}\n`);
        refresh(true);
      } else stream.write(`${JSON.stringify({ event: "log", label: params.label, message })}\n`);
    },
    done(summary = {}) {
      if (bar) {
        refresh(true);
        bar.stop();
        const text = Object.entries(summary)
          .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
          .join(" ");
        stream.write(`${params.label}: ${count} done in ${((now() - started) / 1000).toFixed(1)}s ${text}\n`);
      } else emitJson("done", summary);
    },
    get count() {
      return count;
    },
  };
}
