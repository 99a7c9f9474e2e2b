/**
 * CSV as RFC 4180 has it: a header row, CRLF line ends, and a field quoted (its quotes
 * doubled) when it holds a comma, a quote or a line break. Every report turns into one
 * CsvTable, so the HTTP answer and the ops CLI print the same text.
 */

export type CsvValue = string | number | boolean | null | undefined;

export interface CsvTable {
  /** What a download is saved as: letters, digits and - _ . only, so it needs no escaping in a header. */
  filename: string;
  columns: readonly string[];
  rows: readonly Readonly<Record<string, CsvValue>>[];
}

const NEEDS_QUOTES = /[",\r\n]/;
// A spreadsheet runs a cell that starts with one of these as a formula: text that is not a
// number gets a leading apostrophe (OWASP's advice). Amounts like "-3.10" stay numbers.
const FORMULA_START = /^[=+\-@\t\r]/;
const NUMBER = /^-?\d+(\.\d+)?$/;

/**
 * Excel opens a CSV without a byte order mark in the system's ANSI code page (GBK on Chinese
 * Windows), which garbles UTF-8 text such as a fund's or a merchant's Chinese name; with a UTF-8
 * BOM it reads UTF-8. Off by default: other readers (scripts, databases) take the BOM as part of
 * the first column's name.
 */
export const UTF8_BOM = '\uFEFF';

export function csvText(table: Pick<CsvTable, 'columns' | 'rows'>, options: { bom?: boolean } = {}): string {
  const lines = [table.columns.map(csvField), ...table.rows.map((row) => table.columns.map((column) => csvField(row[column])))];
  return (options.bom ? UTF8_BOM : '') + lines.map((fields) => `${fields.join(',')}\r\n`).join('');
}

function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' && FORMULA_START.test(value) && !NUMBER.test(value) ? `'${value}` : String(value);
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
