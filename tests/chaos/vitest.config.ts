import { defineProject } from 'vitest/config';

// One file, scenarios in order (they share one table); each bounds its own time, the whole run stays under ~90 s.
export default defineProject({ test: { name: 'chaos', testTimeout: 60_000, hookTimeout: 30_000, fileParallelism: false } });
