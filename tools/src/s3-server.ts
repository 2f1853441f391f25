import fs from "node:fs";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import S3rver from "s3rver";

export interface S3ServerOptions {
  /** Buckets created before the server answers. */
  buckets: string[];
}

export interface S3Server {
  /** `http://127.0.0.1:<port>`; use with path-style addressing (`forcePathStyle: true`). */
  endpoint: string;
  region: "us-east-1";
  accessKeyId: "S3RVER";
  secretAccessKey: "S3RVER";
  /** The temporary folder holding the objects (removed by close()). */
  directory: string;
  close(): Promise<void>;
}

/**
 * Starts an S3 stand-in (s3rver, in-process, silent) on 127.0.0.1 with a random port, backed by a fresh
 * temporary folder. Pair it with `new S3Client(s3ClientConfig(server))`.
 */
export async function startS3Server(params: S3ServerOptions): Promise<S3Server> {
  const directory = await fs.promises.mkdtemp(path.join(os.tmpdir(), "laion-s3-"));
  const s3 = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: params.buckets.map((name) => ({ name })),
  });
  const address = await s3.run();
  const sockets = new Set<net.Socket>();
  s3.httpServer?.on("connection", (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  let closed: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    region: "us-east-1",
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    directory,
    close() {
      closed ??= (async () => {
        const done = s3.close();
        // keep-alive sockets of an SDK client would otherwise hold close() open
        for (const s of sockets) s.destroy();
        await done;
        await fs.promises.rm(directory, { recursive: true, force: true });
      })();
      return closed;
    },
  };
}

/** The config for `new S3Client(...)` (@aws-sdk/client-s3) that talks to `server`. */
export function s3ClientConfig(
  server: Pick<S3Server, "endpoint" | "region" | "accessKeyId" | "secretAccessKey">,
) {
  return {
    endpoint: server.endpoint,
    region: server.region,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    forcePathStyle: true,
    // s3rver predates S3's default CRC32 checksums (aws-chunked bodies with trailers): only send and
    // check checksums where an operation requires them
    requestChecksumCalculation: "WHEN_REQUIRED" as const,
    responseChecksumValidation: "WHEN_REQUIRED" as const,
  };
}
