/**
 * `npm run dev`: the service on your machine. With no `IMS_CLIENT_ID` (in the environment or `.env`) it
 * first starts the IMS emulator — a dev dependency, so a production install (`npm ci --omit=dev`) has
 * none of it — and points the `IMS_*` variables and `ADOBE_API_URL` at it. With a credential set it is
 * `npm start`.
 */
import { loadDotEnv } from './config';
import { start } from './start';

async function dev(): Promise<void> {
  try {
    loadDotEnv();
  } catch {
    // start() reports it
  }
  if ((process.env['IMS_CLIENT_ID'] ?? '').trim() !== '') return start();

  const { startEmulator, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } = await import('@ims-token/emulator');
  const emulator = await startEmulator();
  const replaced = Object.keys(process.env).filter((k) => (k.startsWith('IMS_') || k === 'ADOBE_API_URL') && process.env[k]?.trim());
  for (const k of replaced) delete process.env[k];
  Object.assign(process.env, {
    IMS_CLIENT_ID: DEFAULT_CLIENT_ID,
    IMS_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
    IMS_SCOPES: 'openid,AdobeID,firefly_api',
    IMS_URL: emulator.url,
    ADOBE_API_URL: emulator.url, // the emulator's sample jobs API
  });
  const ignored = replaced.length > 0 ? `\n(ignored while no IMS_CLIENT_ID is set: ${replaced.join(', ')})` : '';
  return start({
    note: `Talking to a local Adobe IMS emulator at ${emulator.url} (no IMS_CLIENT_ID set).${ignored}\nFor real Adobe credentials, see "Point it at real Adobe credentials" in README.md.`,
  });
}

dev().catch((err: unknown) => {
  process.stderr.write(`Could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
