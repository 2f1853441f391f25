import { parentPort, workerData } from "node:worker_threads";
import { type FetchLaionSubsetParams, fetchLaionSubsetHere } from "./fetch-subset.js";
import { serializeError, type WorkerMessage } from "./worker-relay.js";

// The worker side of fetchLaionSubset (see worker-relay.ts): runs the fetch here, in an isolate with a
// capped young generation, and sends the callbacks' arguments, the result or the error to the caller.
const port = parentPort;
if (!port) throw new Error("fetch-worker.js runs only as a worker thread (started by fetchLaionSubset)");
const send = (m: WorkerMessage) => port.postMessage(m);
const params = workerData as FetchLaionSubsetParams;
try {
  const result = await fetchLaionSubsetHere({
    ...params,
    onLog: (message) => send({ type: "log", message }),
    onProgress: (stats) => send({ type: "progress", stats }),
  });
  send({ type: "done", result });
} catch (err) {
  send({ type: "error", error: serializeError(err) });
}
