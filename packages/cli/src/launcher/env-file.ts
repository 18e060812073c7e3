/**
 * How `--env-file` combines with the environment: one rule for the warm-cache launcher and the full CLI (and
 * the same as Node's own `--env-file` and the example app): **the real environment wins** over the file, which
 * only fills in what the environment lacks. The secret source is one unit: when the environment names any of
 * the secret variables, the file's secret variables are all ignored (a file's IMS_CLIENT_SECRET_FILE must not
 * join an IMS_CLIENT_SECRET of the environment). Flags win over both. Core-free.
 */
type Env = Record<string, string | undefined>;

/** The variables that together say where the client secret comes from. */
export const SECRET_VARS = ['IMS_CLIENT_SECRET', 'IMS_CLIENT_SECRET_NEXT', 'IMS_CLIENT_SECRET_FILE'] as const;

/** The environment of this run, and the variables that came from the file (those the environment lacked). */
export function layerEnvFile(processEnv: Env, fromFile: Env): { env: Env; used: Env } {
  const envHasSecret = SECRET_VARS.some((v) => processEnv[v] !== undefined);
  const used: Env = {};
  for (const [k, v] of Object.entries(fromFile)) {
    if (processEnv[k] !== undefined) continue;
    if (envHasSecret && (SECRET_VARS as readonly string[]).includes(k)) continue;
    used[k] = v;
  }
  return { env: { ...processEnv, ...used }, used };
}
