import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A `redis-server` of the test's own, on its own port, without persistence, that the test can kill (SIGKILL, as
 * an OOM killer or a node failure would) and start again on the same port, empty.
 */
export class RedisServer {
  #proc: ChildProcess | undefined;
  /** What the server printed, for the leak scan (it must never see a token in clear from us either). */
  readonly output: string[] = [];

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#proc !== undefined;
  }

  /** Starts the server (again) and resolves when it accepts connections. */
  async restart(): Promise<void> {
    if (this.#proc) return;
    const proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#proc = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start on port ${this.port} within 10 s`)), 10_000);
      const onData = (chunk: Buffer): void => {
        const text = chunk.toString();
        this.output.push(text);
        if (text.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
      proc.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        this.#proc = undefined;
        reject(
          err.code === 'ENOENT'
            ? new Error(
                'redis-server is not on PATH: the chaos suite starts its own (e.g. apt-get install redis-server, brew install redis)',
              )
            : err,
        );
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code} before it was ready`));
      });
    });
  }

  /** SIGKILL: no shutdown, no goodbye to the clients; resolves once the process is gone. */
  async kill(): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    this.#proc = undefined;
    proc.removeAllListeners('exit');
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await gone;
  }
}
