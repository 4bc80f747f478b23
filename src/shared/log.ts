// Structured JSON logs on stderr for every component, so stdout stays free for command output (--json).
import pino, { type Logger } from 'pino';

export function createLogger(component: string, level: string): Logger {
  return pino({ level, base: { component } }, pino.destination(2));
}
