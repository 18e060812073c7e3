import { defineProject } from 'vitest/config';

export default defineProject({ test: { name: 'consumer', testTimeout: 240_000, hookTimeout: 240_000 } });
