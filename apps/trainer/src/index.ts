// @laion/trainer-app: the pipeline the `laion-trainer` CLI and the nx targets run, as a library — what a
// user needs to run it from code: the Kaggle pipeline and the demo, the app config, and runPipeline with
// the Stage shape for pipelines of their own. Named one by one; the stages' internals (the demo's
// servers and inputs, each stage's params mapping) stay internal (tests import them from src/).
export type { AppConfig } from "./app-config.js";
export { loadAppConfig, parseAppConfig } from "./app-config.js";
export type { DemoParams, DemoResult } from "./demo.js";
export { runDemo } from "./demo.js";
export type { BuildStagesParams, StageName } from "./kaggle.js";
export { buildStages, STAGE_NAMES } from "./kaggle.js";
export type { KaggleParams } from "./run-kaggle.js";
export { runKaggle } from "./run-kaggle.js";
export type {
  PipelineSummary,
  PlannedStage,
  RunPipelineParams,
  StageReport,
  StageStatus,
} from "./run-pipeline.js";
export { formatPlan, formatSummary, planPipeline, runPipeline, StageFailedError } from "./run-pipeline.js";
export type { Stage, StageCheck, StageRunParams } from "./stage.js";
