/** The example app as a module, for its tests: `main.ts` and `dev.ts` are the commands. */
export { createApp, JobInput } from './app';
export type { ExampleApp } from './app';
export { startServer } from './server';
export type { RunningServer } from './server';
export { loadConfig, loadDotEnv, ConfigError } from './config';
export type { AppConfig } from './config';
export { createJobsClient, SUBMIT_PATH, statusPath, isFinal } from './adobe-jobs';
export type { Job, JobStatus, JobsClient } from './adobe-jobs';
export { AppError, PROBLEM_TYPE_BASE } from './problem';
