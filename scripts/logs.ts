// Where the launcher's parts write: each line to the terminal, prefixed with the part's name, and to the part's
// own file under the logs directory (.data/logs/<name>.log), so a part's history survives the terminal.
import { closeSync, createWriteStream, openSync, readSync, statSync, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

/** How often a log file written by another process (PostgreSQL's) is read for new lines. */
export const LOG_FOLLOW_INTERVAL_MS = 500;
/** Width of the `[name]` column in the terminal. */
const PREFIX_WIDTH = 12;

// Colour codes (the Temporal SDK's Rust core colours its lines) are for terminals; the files stay plain text.
// eslint-disable-next-line no-control-regex -- the escape character is what it matches
const ANSI_ESCAPE = /\x1b\[[0-9;]*m/g;

export const terminalPrefix = (name: string) => `[${name}]`.padEnd(PREFIX_WIDTH);

/** Splits a stream into lines (the last, unterminated one when the stream ends). */
export function onLines(stream: Readable, line: (text: string) => void): void {
  let buffered = '';
  const decoder = new StringDecoder('utf8'); // (a character may be split between chunks)
  stream.on('data', (chunk: Buffer) => {
    buffered += decoder.write(chunk);
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const l of lines) line(l);
  });
  stream.on('end', () => { if (buffered) line(buffered); });
}

/** One part's log: its file (appended to across restarts and starts) and its terminal prefix. */
export class PartLog {
  private readonly file: WriteStream;
  private readonly prefix: string;

  /** terminal false: the file only (a chatty part the terminal would drown in, such as Temporal's services). */
  constructor(name: string, readonly path: string, private readonly terminal = true) {
    this.prefix = terminalPrefix(name);
    this.file = createWriteStream(path, { flags: 'a' });
  }

  line(text: string): void {
    if (this.terminal) console.log(`${this.prefix} ${text}`);
    this.file.write(`${text.replace(ANSI_ESCAPE, '')}\n`);
  }

  /** Both output streams of a child process. */
  capture(child: { stdout: Readable | null; stderr: Readable | null }): void {
    for (const stream of [child.stdout, child.stderr]) if (stream) onLines(stream, (l) => this.line(l));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.file.end(resolve));
  }
}

/**
 * Prints to the terminal, prefixed, the lines another process appends to `path` from now on (PostgreSQL writes
 * its own log file). Returns a function that stops following.
 */
export function followFile(name: string, path: string): () => void {
  const prefix = terminalPrefix(name);
  let offset = sizeOf(path);
  let partial = '';
  const timer = setInterval(() => {
    const size = sizeOf(path);
    if (size < offset) offset = 0; // replaced or truncated: read it from the start
    if (size === offset) return;
    const chunk = Buffer.alloc(size - offset);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, chunk, 0, chunk.length, offset);
    } finally {
      closeSync(fd);
    }
    offset = size;
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!;
    for (const l of lines) console.log(`${prefix} ${l}`);
  }, LOG_FOLLOW_INTERVAL_MS);
  return () => clearInterval(timer);
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
