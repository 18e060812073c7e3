import { defineConfig } from 'tsup';
import { preset } from '../../tsup.preset';

// shims: src/load.ts uses import.meta.url to require() undici lazily, also from the CommonJS build.
export default defineConfig(preset({ shims: true }));
