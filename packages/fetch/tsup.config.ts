import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { defineConfig } from 'tsup';
import { preset } from '../../tsup.preset';

const require = createRequire(import.meta.url);

// dist/public-suffix.cjs is tldts's own prebuilt, self-contained CommonJS build (the Public Suffix List and
// its lookup, 136 KB), copied in so that npm installs nothing more. The library require()s it only when it
// checks an allowedHosts wildcard other than the default; see THIRD_PARTY_NOTICES.md for its licences.
export default defineConfig(
  preset({
    shims: true,
    async onSuccess() {
      const source = readFileSync(require.resolve('tldts/dist/index.cjs.min.js'), 'utf8').replace(/\n\/\/# sourceMappingURL=.*$/, '\n');
      const version = (JSON.parse(readFileSync(require.resolve('tldts/package.json'), 'utf8')) as { version: string }).version;
      const banner = `/*! tldts ${version} (MIT) with the Public Suffix List (MPL-2.0, https://publicsuffix.org/list/): see THIRD_PARTY_NOTICES.md */\n`;
      writeFileSync('dist/public-suffix.cjs', banner + source);
    },
  }),
);
