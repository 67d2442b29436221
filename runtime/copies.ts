// Several copies of a server process sharing one port (node:cluster), so an HTTP service uses more than one
// core. The first process prepares (migrations, say), starts the copies, prints its announcement once every copy
// listens, replaces a copy that dies after that, and on SIGTERM/SIGINT stops them all and exits with the worst
// exit code. A copy whose first process is gone (killed) stops itself. With one copy, `serve` runs here.
import cluster from 'node:cluster';

export interface CopiesOptions {
  copies: number;
  /** Runs once, in the first process, before any copy starts. */
  prepare?: () => Promise<void>;
  /** The line printed once every copy listens (with one copy, `serve` prints its own). */
  announce: (port: number) => string;
  /** The port the copies are announced on, when they listen on others too (the federation gateway's): others are not counted. */
  port?: number;
}

/** Runs `serve` (which listens and handles its own SIGTERM/SIGINT) in `o.copies` copies; `alone` is true with one. */
export async function serveInCopies(o: CopiesOptions, serve: (alone: boolean) => Promise<void>): Promise<void> {
  if (o.copies <= 1) return serve(true);
  if (cluster.isWorker) {
    process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
    return serve(false);
  }
  await o.prepare?.();
  let listening = 0;
  let ready = false;
  let stopping = false;
  // counted here: cluster.workers drops a copy only after both its 'exit' and 'disconnect', in either order
  let live = 0;
  const fork = () => { live++; cluster.fork(); };
  cluster.on('listening', (w, address) => {
    if (o.port && address.port !== o.port) return;
    if (ready) console.log(`copy ${w.process.pid} listening (a replacement)`);
    else if (++listening === o.copies) {
      ready = true;
      console.log(o.announce(address.port));
    }
  });
  cluster.on('exit', (w, code, signal) => {
    live--;
    if (!stopping && ready) {
      console.error(`copy ${w.process.pid} exited (${signal ?? code}); starting another`);
      fork();
      return;
    }
    // (a copy still starting has no handler yet: our SIGTERM ends it, as asked)
    const failed = stopping && signal === 'SIGTERM' ? 0 : (code ?? 1);
    process.exitCode = Math.max(Number(process.exitCode ?? 0), failed);
    if (!stopping) {
      console.error(`copy ${w.process.pid} exited (${signal ?? code}) while starting`);
      stop();
    }
    if (live === 0) process.exit();
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  for (let i = 0; i < o.copies; i++) fork();
}
