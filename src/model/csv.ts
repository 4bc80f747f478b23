// A small RFC 4180 CSV reader: quoted fields, doubled quotes, CRLF. Header names and cells are trimmed because
// nvidia-smi writes ", " between columns.
import { readFileSync } from 'node:fs';
import { WS_ERR_MODEL_DATA } from '../shared/errors.js';

export interface CsvTable {
  source: string;
  columns: string[];
  rows: Record<string, string>[];
}

export function parseCsv(text: string, source = '<memory>', header = true): CsvTable {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field);
      field = '';
      if (record.length > 1 || (record[0] as string).trim() !== '') records.push(record);
      record = [];
    } else field += c;
  }
  if (quoted) throw new WS_ERR_MODEL_DATA(source, 'unterminated quoted field');
  if (field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  if (records.length === 0) throw new WS_ERR_MODEL_DATA(source, 'empty file');
  const columns = header ? (records[0] as string[]).map((h) => h.trim()) : (records[0] as string[]).map((_, i) => `c${i}`);
  const rows = (header ? records.slice(1) : records).map((r, line) => {
    if (r.length !== columns.length) throw new WS_ERR_MODEL_DATA(source, `row ${line + 1} has ${r.length} fields, header has ${columns.length}`);
    const row: Record<string, string> = {};
    columns.forEach((name, j) => (row[name] = (r[j] as string).trim()));
    return row;
  });
  return { source, columns, rows };
}

export function readCsv(path: string, header = true): CsvTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new WS_ERR_MODEL_DATA(path, (err as Error).message);
  }
  return parseCsv(text, path, header);
}

/** A finite number, or null for empty/non-numeric cells ("n/a", "--"). */
export function num(cell: string | undefined): number | null {
  if (cell === undefined || cell === '') return null;
  const v = Number(cell);
  return Number.isFinite(v) ? v : null;
}

/** Concatenates tables that share the same columns (several --data files). */
export function concatTables(tables: CsvTable[]): CsvTable {
  const first = tables[0];
  if (!first) throw new WS_ERR_MODEL_DATA('(none)', 'no data files given');
  for (const t of tables.slice(1)) {
    const missing = first.columns.filter((c) => !t.columns.includes(c));
    if (missing.length > 0) throw new WS_ERR_MODEL_DATA(t.source, `missing columns ${missing.join(', ')} present in ${first.source}`);
  }
  return { source: tables.map((t) => t.source).join('+'), columns: first.columns, rows: tables.flatMap((t) => t.rows) };
}
