/**
 * Flow history from a CSV file of daily totals, for a fund with no history here yet
 * (docs/reserve-forecast.md, "Importing history"). Columns, in any order, one header line:
 *
 *   date                       yyyy-MM-dd, a Beijing business date before today, each once
 *   <channel>_yuan             the day's total of each channel, in yuan with at most 2
 *                              decimals ("1234.56"), all four required: instant_redemption,
 *                              payment, redemption, transfer_in
 *   <channel>_count            optional, any of the four: the day's number of requests
 *
 * The whole file is checked before anything is written: the first bad line refuses it, named
 * by its number (the header is line 1). Days are stored with source `import`; importing a day
 * again replaces it. The service's own day wins over an imported one wherever it counted a
 * request (src/planning/history.ts).
 */
import { isBusinessDate } from '../calendar/businessDate.ts';
import type { AppContext } from '../context.ts';
import { csvLines, invalidCsv, unquoted } from '../fund/import.ts';
import { MoneyFormatError, parseYuan } from '../money/fen.ts';
import { FLOW_CHANNELS, perChannel, type DailyFlow, type FlowChannel } from './flows.ts';
import { FLOW_HISTORY_DAYS_MAX, storeDays } from './history.ts';

export const FLOW_CSV_AMOUNT_COLUMNS = FLOW_CHANNELS.map((channel) => `${channel}_yuan`);
export const FLOW_CSV_COUNT_COLUMNS = FLOW_CHANNELS.map((channel) => `${channel}_count`);
/** Three years of days a file, and a bound on its text before any of it is read. */
export const FLOW_CSV_ROWS_MAX = FLOW_HISTORY_DAYS_MAX;
export const FLOW_CSV_CHARS_MAX = 512 * 1024;
/** A day's requests: far above any fund's, well inside a number. */
const COUNT_PATTERN = /^(0|[1-9]\d{0,9})$/;

export async function importFlowCsv(ctx: AppContext, csvText: string): Promise<{ days: number }> {
  const today = ctx.calendar.businessDateOf(ctx.clock.now());
  const days = parseFlowCsv(csvText, today);
  await storeDays(ctx, days, 'import');
  return { days: days.length };
}

/** The days of a file, each checked; `today` and later are refused (a day not over has no totals). */
export function parseFlowCsv(csvText: string, today: string): DailyFlow[] {
  if (csvText.length > FLOW_CSV_CHARS_MAX) throw invalidCsv(1, `the file is over ${FLOW_CSV_CHARS_MAX} characters`);
  const lines = csvLines(csvText);
  const columns = headerColumns(lines[0] ?? '');
  const days: DailyFlow[] = [];
  const lineOfDate = new Map<string, number>();
  lines.forEach((text, index) => {
    const line = index + 1;
    if (line === 1 || text.trim() === '') return;
    if (days.length >= FLOW_CSV_ROWS_MAX) throw invalidCsv(line, `at most ${FLOW_CSV_ROWS_MAX} rows a file`);
    const fields = text.split(',').map(unquoted);
    if (fields.length !== columns.length) throw invalidCsv(line, `expected ${columns.length} fields, found ${fields.length}`);
    const row = new Map(columns.map((column, position) => [column, fields[position]!]));
    const day = dayOf(row, line, today);
    const earlier = lineOfDate.get(day.date);
    if (earlier !== undefined) throw invalidCsv(line, `${day.date} is also on line ${earlier}`);
    lineOfDate.set(day.date, line);
    days.push(day);
  });
  if (days.length === 0) throw invalidCsv(lines.length, 'no rows after the header');
  return days;
}

function headerColumns(header: string): string[] {
  const columns = header.split(',').map(unquoted);
  const known = new Set(['date', ...FLOW_CSV_AMOUNT_COLUMNS, ...FLOW_CSV_COUNT_COLUMNS]);
  const unknown = columns.find((column) => !known.has(column));
  if (unknown !== undefined) throw invalidCsv(1, `unknown column "${unknown}" (known: ${[...known].join(', ')})`);
  const twice = columns.find((column, index) => columns.indexOf(column) !== index);
  if (twice !== undefined) throw invalidCsv(1, `column "${twice}" is there twice`);
  const absent = ['date', ...FLOW_CSV_AMOUNT_COLUMNS].filter((column) => !columns.includes(column));
  if (absent.length > 0) throw invalidCsv(1, `the header lacks ${absent.join(', ')}`);
  return columns;
}

function dayOf(row: Map<string, string>, line: number, today: string): DailyFlow {
  const date = row.get('date')!;
  if (!isBusinessDate(date)) throw invalidCsv(line, `"${date}" is not a yyyy-MM-dd date`);
  if (date >= today) throw invalidCsv(line, `${date} is not over yet (today is ${today})`);
  const totalsFen = perChannel((channel) => amountOf(row, channel, line));
  const counts = perChannel((channel) => countOf(row, channel, line, totalsFen[channel]));
  return { date, totalsFen, counts };
}

function amountOf(row: Map<string, string>, channel: FlowChannel, line: number): bigint {
  const text = row.get(`${channel}_yuan`)!;
  try {
    return parseYuan(text);
  } catch (error) {
    if (!(error instanceof MoneyFormatError)) throw error;
    throw invalidCsv(line, `${channel}_yuan "${text}" is not an amount of yuan, not negative, with at most 2 decimals, e.g. 1234.56`);
  }
}

/** The column's count, or 0 when the file has none; a count must agree with its amount being zero or not. */
function countOf(row: Map<string, string>, channel: FlowChannel, line: number, totalFen: bigint): number {
  const text = row.get(`${channel}_count`);
  if (text === undefined) return 0;
  if (!COUNT_PATTERN.test(text)) throw invalidCsv(line, `${channel}_count "${text}" is not a whole number of requests`);
  const count = Number(text);
  if ((count === 0) !== (totalFen === 0n)) throw invalidCsv(line, `${channel}_count ${count} does not fit ${channel}_yuan: one is zero and the other not`);
  return count;
}
