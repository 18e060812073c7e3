// ims-token: require core, create a provider from the environment, get one token, let the process exit by itself.
'use strict';
const { createTokenProvider, fromEnv } = require('@ims-token/core');
const provider = createTokenProvider(fromEnv());
provider.getToken().then(
  () => {
    process.stderr.write(`token-at ${performance.now().toFixed(1)}\n`);
    return provider.close();
  },
  (err) => {
    process.exitCode = 1;
    process.stderr.write(`${err.code}\n`);
  },
);
