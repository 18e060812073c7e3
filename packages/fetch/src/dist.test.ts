import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));

// Runs in a fresh Node on the built files, the way an installed package runs (no NODE_PATH from pnpm's shims).
const script = `
import { createRequire } from 'node:module';
const cache = createRequire(import.meta.url).cache;
const loaded = (part) => Object.keys(cache).some((k) => k.includes(part));
const m = await import(process.argv[1]);
const provider = { clientId: 'c', getAuthHeaders: async () => ({ authorization: 'Bearer t', 'x-api-key': 'c' }), invalidate: async () => true };
const out = { onImport: { undici: loaded('/undici/'), suffixes: loaded('public-suffix.cjs') } };
m.createImsFetch({ provider });
m.imsInterceptor({ provider, allowedHosts: ['*.adobe.io', 'api.example.com', '127.0.0.1'] });
out.defaults = { undici: loaded('/undici/'), suffixes: loaded('public-suffix.cjs') };
try {
  m.createImsFetch({ provider, allowedHosts: ['*.adobe.io', '*.github.io'] });
} catch (err) {
  out.refused = { code: err.code, field: err.field };
}
m.createImsFetch({ provider, allowedHosts: ['*.example.co.uk'] });
out.suffixes = loaded('public-suffix.cjs');
m.createImsDispatcher({ provider });
out.undici = loaded('/undici/');
console.log(JSON.stringify(out));
`;

function run(file: string): Promise<unknown> {
  const env = { ...process.env };
  delete env['NODE_PATH'];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script, `${dist}${file}`], { env, cwd: dist }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

describe('the built package (pnpm --filter @ims-token/fetch build first)', () => {
  it.each(['index.js', 'index.cjs'])(
    '%s loads neither undici nor the suffix list until a path needs them, and refuses *.github.io from its bundled list',
    async (file) => {
      expect(await run(file)).toEqual({
        onImport: { undici: false, suffixes: false },
        defaults: { undici: false, suffixes: false },
        refused: { code: 'IMS_CONFIG', field: 'allowedHosts[1]' },
        suffixes: true,
        undici: true,
      });
    },
  );
});
