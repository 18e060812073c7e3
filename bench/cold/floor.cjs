// The floor: one token POST with node:http and nothing else, as a hand-written script would do it.
'use strict';
const http = require('node:http');
const https = require('node:https');
const url = new URL('/ims/token/v3', process.env.IMS_URL);
const body = new URLSearchParams({
  grant_type: 'client_credentials',
  client_id: process.env.IMS_CLIENT_ID,
  client_secret: process.env.IMS_CLIENT_SECRET,
  scope: process.env.IMS_SCOPES,
}).toString();
const req = (url.protocol === 'https:' ? https : http).request(
  url,
  { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
  (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      const token = JSON.parse(Buffer.concat(chunks).toString('utf8')).access_token;
      if (typeof token !== 'string') process.exitCode = 1;
      process.stderr.write(`token-at ${performance.now().toFixed(1)}\n`);
    });
  },
);
req.end(body);
