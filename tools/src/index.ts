export { FIXTURES_DIR, fixturePath } from "./fixtures.js";
export type { HubDataset, HubRequest, HubServer, HubServerOptions } from "./hub-server.js";
export { startHubServer } from "./hub-server.js";
export type { FaultKind, ImageServer, ImageServerOptions, RecordedRequest } from "./image-server.js";
export { FAULT_KINDS, REDIRECT_CHAIN_HOPS, startImageServer } from "./image-server.js";
export { packageShapeProblems } from "./package-shape.js";
export type { S3Server, S3ServerOptions } from "./s3-server.js";
export { s3ClientConfig, startS3Server } from "./s3-server.js";
