// @laion/trainer-app: the pipeline the `laion-trainer` CLI and the nx targets run, as a library.
export type { AppConfig } from "./app-config.js";
export { appConfigSchema, laionFromEnv, loadAppConfig, parseAppConfig } from "./app-config.js";
export type { DemoParams, DemoResult } from "./demo.js";
export { DEMO_DATASET, demoConfig, runDemo } from "./demo.js";
export type { DemoImagesParams, DemoParquetParams, DemoRow } from "./demo-inputs.js";
export { DEMO_FAULTS, prepareDemoImages, writeDemoParquet } from "./demo-inputs.js";
export { findRepoRoot } from "./find-root.js";
export type { BuildStagesParams, StageName } from "./kaggle.js";
export { buildStages, STAGE_NAMES } from "./kaggle.js";
export type { KaggleParams } from "./run-kaggle.js";
export { resolveKaggleConfig, runKaggle } from "./run-kaggle.js";
export type {
  PipelineSummary,
  PlannedStage,
  RunPipelineParams,
  StageReport,
  StageStatus,
} from "./run-pipeline.js";
export { formatPlan, formatSummary, planPipeline, runPipeline, StageFailedError } from "./run-pipeline.js";
export type { Forwarder } from "./stable-port.js";
export { startStableForwarder } from "./stable-port.js";
export type { Stage, StageCheck, StageRunParams } from "./stage.js";
export { downloadParamsFor, downloadStage } from "./stage-download.js";
export { fetchParamsFor, fetchStage } from "./stage-fetch.js";
export { latestReconstructionGrid, vqStage } from "./stage-vq.js";
