// Flag parsing shared by the subcommands: node's parseArgs, with unknown flags and bad values as usage errors.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WS_ERR_USAGE } from './errors.js';

export function parseFlags<O extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false });
  } catch (err) {
    throw new WS_ERR_USAGE(`${(err as Error).message}\n\n${usage}`);
  }
}

/** A flag that must be an integer port/count; the schema validates ranges, this only rejects non-numbers early. */
export function intFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value)) throw new WS_ERR_USAGE(`--${name} must be an integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/**
 * Closes `app` on the first SIGTERM or SIGINT and exits: 0 when it closed cleanly, 1 when closing failed. A second
 * signal while closing is ignored, so a slow drain is not cut short by an impatient supervisor's repeat.
 */
export function closeOnSignal(app: { close(): Promise<unknown> }, log: { info(o: object, m: string): void; error(o: object, m: string): void }): void {
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
