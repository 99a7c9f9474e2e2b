/**
 * How the ops CLI prints an answer: text for people by default (amounts grouped by thousands),
 * the JSON the API would answer with --json (for scripts: stdout holds it alone), or a report's
 * CSV with --csv (with a UTF-8 BOM for Excel when asked).
 */
import { groupedYuan } from '../i18n/formatAmount.ts';
import { parseScaled } from '../money/rounding.ts';
import { csvText, type CsvTable } from '../reports/csv.ts';

export type OutputFormat = 'text' | 'json' | 'csv';

/** A report: its JSON, and the table that is its CSV and, for people, its columns. */
export class Tabular {
  constructor(
    readonly json: unknown,
    readonly table: CsvTable,
  ) {}
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export function printed(answer: unknown, format: OutputFormat, options: { bom?: boolean } = {}): string {
  const json = answer instanceof Tabular ? answer.json : answer;
  if (format === 'json') return `${JSON.stringify(json, null, 2)}\n`;
  if (answer instanceof Tabular) return format === 'csv' ? csvText(answer.table, options) : columnsText(answer.table.columns, answer.table.rows);
  // The same values as the JSON (dates as ISO strings, toJSON applied), laid out for reading.
  return `${textLines(JSON.parse(JSON.stringify(json ?? null)) as Json, '').join('\n')}\n`;
}

function textLines(value: Json, indent: string): string[] {
  if (!isObject(value)) return [`${indent}${scalarText(value)}`];
  const entries = Object.entries(value);
  const width = Math.max(0, ...entries.map(([key]) => label(key).length));
  return entries.flatMap(([key, field]) => {
    const name = `${indent}${label(key)}`;
    if (Array.isArray(field) && field.some(isObject)) return [`${name}:`, ...indented(columnsText(columnsOf(field), field as Record<string, Json>[]), indent)];
    if (isObject(field)) return [`${name}:`, ...textLines(field, `${indent}  `)];
    return [`${name.padEnd(indent.length + width)}  ${Array.isArray(field) ? field.map(scalarText).join(', ') || 'none' : fieldText(key, field)}`];
  });
}

function isObject(value: Json): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** accountsChecked → accounts checked */
function label(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
}

function scalarText(value: Json | undefined): string {
  if (value === null || value === undefined) return '-';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

// A yuan amount as the API writes it; percentages share the shape and are told by their name.
const YUAN = /^-?\d+\.\d{2}$/;

/** An amount for people: "1234567.89" → "1,234,567.89"; every other value as scalarText. */
function fieldText(key: string, value: Json | undefined): string {
  return typeof value === 'string' && YUAN.test(value) && !/percent/i.test(key) ? groupedYuan(parseScaled(value, 2)) : scalarText(value);
}

function columnsOf(rows: Json[]): string[] {
  return [...new Set(rows.filter(isObject).flatMap((row) => Object.keys(row)))];
}

function indented(text: string, indent: string): string[] {
  return text.trimEnd().split('\n').map((line) => `${indent}  ${line}`);
}

const NUMERIC = /^-?[\d,]+(\.\d+)?%?$/;

/** Aligned columns, columns of figures to the right; a Chinese character takes two cells of a terminal. */
function columnsText(columns: readonly string[], rows: readonly Readonly<Record<string, unknown>>[]): string {
  const cells = rows.map((row) => columns.map((column) => fieldText(column, row[column] as Json | undefined)));
  const widths = columns.map((column, index) => Math.max(cellWidth(column), ...cells.map((line) => cellWidth(line[index]!))));
  const figures = columns.map((_column, index) => cells.length > 0 && cells.every((line) => NUMERIC.test(line[index]!) || line[index] === '-'));
  const lineOf = (line: readonly string[]) =>
    line
      .map((cell, index) => {
        const padding = ' '.repeat(widths[index]! - cellWidth(cell));
        return figures[index] ? padding + cell : cell + padding;
      })
      .join('  ')
      .trimEnd();
  return `${[lineOf(columns), ...cells.map(lineOf)].join('\n')}\n`;
}

const WIDE = /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/u;

function cellWidth(text: string): number {
  let width = 0;
  for (const character of text) width += WIDE.test(character) ? 2 : 1;
  return width;
}
