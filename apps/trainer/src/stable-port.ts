import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { writeFileAtomicSync } from "@laion/cli-kit";

export interface Forwarder {
  /** `http://127.0.0.1:<port>` */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * A byte-level TCP forwarder from a port that stays the same across demo runs to a server on a random
 * port. The demo's parquet holds image URLs; when the demo is killed during download and started again,
 * the image server comes back on a new random port, and the URLs already written to filtered.parquet
 * would point nowhere. The forwarder keeps them valid. It copies bytes both ways and nothing else, so
 * the image server's faults (truncated bodies, lying Content-Length, …) reach the downloader unchanged.
 *
 * The port is remembered in `stateFile`; the first run takes any free port.
 */
export async function startStableForwarder(params: {
  target: string;
  stateFile: string;
}): Promise<Forwarder> {
  const target = new URL(params.target);
  let port = 0;
  if (fs.existsSync(params.stateFile)) {
    const saved = JSON.parse(fs.readFileSync(params.stateFile, "utf8")) as { port?: unknown };
    if (typeof saved.port === "number") port = saved.port;
  }
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    // an abrupt close on one side (the `truncated` fault) must be an abrupt close on the other
    const drop = (s: net.Socket) => () => {
      sockets.delete(s);
      s.destroy();
    };
    client.on("close", drop(upstream)).on("error", drop(upstream));
    upstream.on("close", drop(client)).on("error", drop(client));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE")
        reject(
          new Error(
            `port ${port} (remembered in ${params.stateFile}, so URLs written by an earlier demo run stay valid) is in use; ` +
              `stop whatever uses it, or delete ${path.dirname(params.stateFile)} to start the demo from scratch`,
          ),
        );
      else reject(err);
    });
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  if (port === 0) writeFileAtomicSync(params.stateFile, JSON.stringify({ port: address.port }, null, 2));
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
