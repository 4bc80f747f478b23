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
