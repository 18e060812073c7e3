import { defineConfig } from 'tsup';
import { preset } from '../../tsup.preset';

// Two entry points: the library, and `@ims-token/core/cache` (node built-ins only) for a cold start that
// just reads a cached token, such as the ims-token CLI's.
export default defineConfig(preset({ entry: ['src/index.ts', 'src/cache.ts'] }));
