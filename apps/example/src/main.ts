/** `npm start` / `node dist/main.js`: the service, with the credential from the environment or `.env`. */
import { start } from './start';

start().catch((err: unknown) => {
  process.stderr.write(`Could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
