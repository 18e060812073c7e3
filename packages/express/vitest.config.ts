import { defineProject } from 'vitest/config';

// --expose-gc: the streaming tests collect garbage while they sample RSS, so only live memory counts.
export default defineProject({ test: { name: 'express', testTimeout: 30_000, hookTimeout: 30_000, execArgv: ['--expose-gc'] } });
