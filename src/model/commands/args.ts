// Flag parsing shared by `wattsched train` and `wattsched evaluate`: bad flags become WS_ERR_USAGE with the reason.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WS_ERR_USAGE } from '../../shared/errors.js';
import { concatTables, readCsv, type CsvTable } from '../csv.js';
import { withPhases } from '../tasks.js';

export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, usage: string) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new WS_ERR_USAGE(`${(err as Error).message}\n\n${usage}`);
  }
}

/** `--data a.csv --data b.csv` and `--data a.csv b.csv` (positionals) are both accepted. */
export function loadData(data: string[] | undefined, positionals: string[], phases: string | undefined, usage: string): CsvTable {
  const files = [...(data ?? []), ...positionals];
  if (files.length === 0) throw new WS_ERR_USAGE(`--data is required\n\n${usage}`);
  let table = concatTables(files.map((f) => readCsv(f)));
  if (phases) table = withPhases(table, readCsv(phases, false));
  return table;
}

export const splitList = (values: string[] | undefined): string[] => (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
