// `npm start`: the bootstrap (npm packages, Temporal CLI, PostgreSQL binaries), then the stack (scripts/stack.ts),
// in this one process, so that a SIGINT or SIGTERM sent to the process npm started reaches the launcher.
//
// package.json runs it as `exec node scripts/start.mjs`. npm 11 runs a script with `sh -c` and forwards SIGINT and
// SIGTERM to that shell; Debian's sh (dash 0.5.12) does not replace itself with the script's last command, and
// while it waits for one it ignores SIGINT and dies of SIGTERM without passing either on (checked: the command
// kept running in both cases). `exec` makes this process npm's child; npm waits for it to exit.
await import('./bootstrap.mjs');
// tsx only now: on a fresh clone the bootstrap has just installed it (the same loader as `node --import tsx`)
await import('tsx');
await import('./stack.ts');
