/**
 * The example app as a module, for tests and for embedding: `createApp()` builds the Express app,
 * `startServer()` listens and stops gracefully, `loadConfig()` validates the environment.
 * `main.ts` is the command that puts them together.
 */
export { createApp, JobInput } from './app';
export type { CreateAppOptions, ExampleApp } from './app';
export { startServer, PortInUseError } from './server';
export type { RunningServer } from './server';
export { loadConfig, loadDotEnv, parseDotEnv, emulatorEnv, wantsEmulator, ConfigError, CONFIG_VARIABLES } from './config';
export type { AppConfig, LogLevel } from './config';
export { createJobsClient, SUBMIT_PATH, statusPath, isFinal } from './adobe-jobs';
export type { Job, JobStatus, JobsClient } from './adobe-jobs';
export { createLogger } from './logger';
export { AppError } from './problem';
