import { streamOf } from './io';
import type { CliIo } from './io';

/** True when we may ask the user questions: stdin and stderr are both terminals. */
export function canPrompt(io: CliIo): boolean {
  return io.stdin.isTTY === true && io.stderr.isTTY === true && typeof io.stdin.setRawMode === 'function';
}

/** Asks for one line on the terminal (the question goes to stderr). */
export async function promptLine(io: CliIo, question: string): Promise<string> {
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: io.stdin, output: streamOf(io.stderr) as NodeJS.WritableStream, terminal: true });
  try {
    return await new Promise<string>((resolve, reject) => {
      rl.once('SIGINT', () => reject(Object.assign(new Error('cancelled'), { code: 'ABORT_ERR' })));
      rl.question(question, (answer) => resolve(answer.trim()));
    });
  } finally {
    rl.close();
  }
}

/** Asks for a secret on the terminal without echoing it. Ctrl-C cancels. */
export function promptHidden(io: CliIo, question: string): Promise<string> {
  const stdin = io.stdin;
  // Raw mode first: input typed (or pasted) after the prompt appears must never be echoed.
  stdin.setRawMode!(true);
  io.stderr.write(question);
  return new Promise<string>((resolve, reject) => {
    let value = '';
    stdin.setEncoding('utf8');
    stdin.resume();
    const done = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode!(false);
      stdin.pause();
      io.stderr.write('\n');
      if (err) reject(err);
      else resolve(value.trim());
    };
    const onData = (chunk: string | Buffer): void => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(Object.assign(new Error('cancelled'), { code: 'ABORT_ERR' }));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
