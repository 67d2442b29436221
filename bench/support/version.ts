// Which code a benchmark measured: the commit checked out, and whether tracked files differ from it.
import { execFileSync } from 'node:child_process';
import { ROOT_DIR } from '../../config';

export function codeVersion(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const head = git('log', '-1', '--format=%h %s');
    const changed = git('status', '--porcelain', '--untracked-files=no').split('\n').filter(Boolean).length;
    return `${head.length > 90 ? `${head.slice(0, 89)}…` : head}${changed ? ` + uncommitted changes in ${changed} file(s)` : ''}`;
  } catch {
    return 'unknown (no git)';
  }
}
