// Structured logs: one JSON object per line (pino), each naming its process (service) and, where there is one, the
// API request it belongs to (requestId). The Temporal SDK's own logs, activities' included, go through the same
// logger (TemporalLogger), so a worker's lines are JSON too.
import type { LogLevel, LogMetadata, Logger as SdkLogger } from '@temporalio/common';
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * A process's logger at a level (config.logLevel: PAYBROKER_LOG_LEVEL). Lines go to standard output without
 * waiting for each write (those that come while one is written go together, and pino writes what is left when the
 * process exits): written one write each, the API's line per request cost it a sixth of its CPU (bench:micropayments).
 */
export function createLogger(service: string, level: string): Logger {
  return pino({ level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    pino.destination({ dest: 1, sync: false }));
}

const LEVELS: Record<LogLevel, pino.Level> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/** The Temporal SDK's Logger over pino (for Runtime.install in the worker). */
export class TemporalLogger implements SdkLogger {
  constructor(private readonly logger: Logger) {}
  log(level: LogLevel, message: string, meta?: LogMetadata): void { this.logger[LEVELS[level]](meta ?? {}, message); }
  trace(message: string, meta?: LogMetadata): void { this.log('TRACE', message, meta); }
  debug(message: string, meta?: LogMetadata): void { this.log('DEBUG', message, meta); }
  info(message: string, meta?: LogMetadata): void { this.log('INFO', message, meta); }
  warn(message: string, meta?: LogMetadata): void { this.log('WARN', message, meta); }
  error(message: string, meta?: LogMetadata): void { this.log('ERROR', message, meta); }
}
