/**
 * Writes the warm path's answer to standard output with one `write(2)` on fd 1, without making
 * `process.stdout`: that stream costs a Node process ~15 stream modules over a file or /dev/null, and `net`
 * with ~25 more over a pipe (`$(ims-token token)`), more than the rest of the warm path together.
 *
 * When fd 1 takes only part of the text, or will not take it now (EAGAIN: a non-blocking pipe that is full)
 * or at all (EPIPE, EBADF …), the rest goes to `process.stdout.write`, as before: the same bytes, the same
 * errors. Core-free.
 */
import { writeSync } from 'node:fs';

/** `stream`: where what fd 1 did not take goes (made only then). */
export function print(text: string, fd = 1, stream = (): { write(chunk: Uint8Array): unknown } => process.stdout): void {
  const bytes = Buffer.from(text, 'utf8');
  let done = 0;
  try {
    // A blocking fd takes it all at once; a short write of a non-blocking pipe goes on below.
    done = writeSync(fd, bytes);
  } catch {
    // nothing written: the stream says why, or writes it later
  }
  if (done < bytes.length) stream().write(bytes.subarray(done));
}
