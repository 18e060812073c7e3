import { createServer, request } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What the proxy does with the answer to an add (`POST …/secrets`) after the emulator created the secret:
 * - `drop`: closes the connection without answering (a reset after the commit);
 * - `502`: answers a gateway error instead of the 201;
 * - `before`: closes the connection before forwarding (nothing is created);
 * - `pass`: forwards and answers normally (with `hold`, later than it came).
 * `onCreated` sees the emulator's 201 body first (e.g. to use the new secret, as a stranger would).
 */
export interface LossRule {
  mode: 'drop' | '502' | 'before' | 'pass';
  /** Runs before the add is forwarded (e.g. another party adds a secret meanwhile). */
  hold?: () => Promise<void>;
  onCreated?: (body: { uuid: string; client_secret: string }) => Promise<void> | void;
}

/** A real HTTP proxy in front of the emulator that loses the answer of the next add(s) as told. */
export interface LossyProxy {
  url: string;
  /** Loses (or holds) the next add's answer. */
  loseNextAdd(rule: LossRule): void;
  stop(): Promise<void>;
}

function forward(
  target: URL,
  req: IncomingMessage,
  body: Buffer,
): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const up = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, host: target.host } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
          resolve({ status: res.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
        });
        res.on('error', reject);
      },
    );
    up.on('error', reject);
    up.end(body);
  });
}

export async function startLossyProxy(targetUrl: string): Promise<LossyProxy> {
  const target = new URL(targetUrl);
  const rules: LossRule[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const isAdd = req.method === 'POST' && /\/secrets\/?$/.test(req.url ?? '');
        const rule = isAdd ? rules.shift() : undefined;
        await rule?.hold?.();
        if (rule?.mode === 'before') {
          req.socket.destroy();
          return;
        }
        const answer = await forward(target, req, Buffer.concat(chunks));
        if (rule && rule.mode !== 'pass') {
          if (answer.status === 201) await rule.onCreated?.(JSON.parse(answer.body.toString('utf8')));
          if (rule.mode === 'drop') {
            req.socket.destroy();
            return;
          }
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end('{"error_code":"502","message":"Bad Gateway"}');
          return;
        }
        res.writeHead(answer.status, answer.headers);
        res.end(answer.body);
      })().catch(() => req.socket.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    loseNextAdd: (rule) => void rules.push(rule),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
