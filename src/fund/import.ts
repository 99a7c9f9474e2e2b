/**
 * Bulk publishing of 万份收益 from a CSV file (docs/ops-guard-rails.md): each row planned as a
 * single publication would be, all rows checked before anything is written, then the new days
 * written in one insert and the corrections each by a compare-and-set.
 */
import { MongoBulkWriteError } from 'mongodb';
import { isBusinessDate } from '../calendar/businessDate.ts';
import type { AppContext } from '../context.ts';
import { DomainError } from '../errors.ts';
import { formatYieldPer10k, isYieldPer10kText, parseYieldPer10k } from '../money/yield.ts';
import { FundDay, fundDayId, type FundDayDocument } from './model.ts';
import { planDay, publishingState, writePlan, type DayPlan } from './service.ts';

export const CSV_HEADER = 'date,yieldPer10k';
export const IMPORT_ROWS_MAX = 366;
/** Room for the header and blank lines around the rows. */
export const IMPORT_LINES_MAX = IMPORT_ROWS_MAX + 34;
/** Corrections written at once: each is its own compare-and-set. */
const CORRECTIONS_IN_FLIGHT = 16;

export interface CsvRow {
  /** The row's line in the file, counting the header as line 1. */
  line: number;
  date: string;
  yieldPer10k: bigint;
}

/** A file refused at one line (counting the header as line 1): nothing of it is written. */
export const invalidCsv = (line: number, detail: string) =>
  new DomainError('invalid_csv', `Line ${line}: ${detail}; nothing was written`, { line }, { values: { line, detail } });

export const unquoted = (field: string) => field.trim().replace(/^"(.*)"$/, '$1').trim();

/** A file's text as its lines (a BOM and CRLF line ends are dropped): what the API takes. */
export const csvLines = (text: string): string[] => text.replace(/^\uFEFF/, '').replace(/\r?\n$/, '').split(/\r?\n/);

/**
 * The rows of a `date,yieldPer10k` file, given as its lines: a header line, then one day a
 * line (quoted fields and blank lines are accepted). The first bad line is refused by number.
 */
export function parseYieldCsv(lines: readonly string[]): CsvRow[] {
  if (lines[0]?.replace(/^\uFEFF/, '').split(',').map(unquoted).join(',') !== CSV_HEADER) throw invalidCsv(1, `the header must be ${CSV_HEADER}`);
  const rows: CsvRow[] = [];
  const lineOfDate = new Map<string, number>();
  lines.forEach((text, index) => {
    const line = index + 1;
    if (line === 1 || text.trim() === '') return;
    const fields = text.split(',').map(unquoted);
    if (fields.length !== 2) throw invalidCsv(line, `expected 2 fields (${CSV_HEADER}), found ${fields.length}`);
    const [date, rate] = fields as [string, string];
    if (!isBusinessDate(date)) throw invalidCsv(line, `"${date}" is not a yyyy-MM-dd date`);
    if (!isYieldPer10kText(rate)) throw invalidCsv(line, `"${rate}" is not a 万份收益 in yuan with at most 4 decimals, e.g. 0.4123`);
    const earlier = lineOfDate.get(date);
    if (earlier !== undefined) throw invalidCsv(line, `${date} is also on line ${earlier}`);
    lineOfDate.set(date, line);
    rows.push({ line, date, yieldPer10k: parseYieldPer10k(rate) });
  });
  if (rows.length === 0) throw invalidCsv(lines.length, 'no rows after the header');
  if (rows.length > IMPORT_ROWS_MAX) throw invalidCsv(rows[IMPORT_ROWS_MAX]!.line, `at most ${IMPORT_ROWS_MAX} rows a file`);
  return rows;
}

export type ImportOutcome = DayPlan['change'] | 'conflict';

/**
 * Publishes the rows of a CSV file. A dry run answers what each row would do and writes
 * nothing. Otherwise every row is planned first: one refused row (a day accrued, not begun,
 * ...) refuses the whole file, nothing written. A day someone else changed between the plan
 * and the write is left as they wrote it and answered `conflict` (import the file again).
 */
export async function importYields(ctx: AppContext, input: { fundCode: string; lines: readonly string[]; dryRun: boolean; publishedBy: string }) {
  const rows = parseYieldCsv(input.lines);
  const state = await publishingState(ctx, input.fundCode);
  const dates = rows.map((row) => row.date).sort();
  const stored = await FundDay.find({ fundCode: input.fundCode, date: { $gte: dates[0], $lte: dates.at(-1) } }).lean<FundDayDocument[]>();
  const current = new Map(stored.map((day) => [day.date, day]));
  const plans = rows.map((row) => ({ row, plan: planDay(ctx, state, row.date, row.yieldPer10k, current.get(row.date) ?? null) }));
  const refused = plans.filter(({ plan }) => plan.refusal);
  if (!input.dryRun && refused.length > 0) {
    const [{ row, plan }] = refused as [(typeof refused)[number]];
    throw new DomainError(
      'yield_import_refused',
      `Line ${row.line}: ${plan.refusal!.detail}. ${refused.length} of ${rows.length} rows refused; nothing was written (a dry run lists each row)`,
      { line: row.line, refusedRows: refused.length },
      { values: { line: row.line, refusedRows: refused.length, rows: rows.length } },
    );
  }
  const outcomes = input.dryRun ? plans.map(({ plan }) => plan.change) : await writePlans(ctx, input.fundCode, plans.map(({ plan }) => plan), input.publishedBy);
  const rowViews = plans.map(({ row, plan }, index) => ({
    line: row.line,
    date: row.date,
    yieldPer10k: formatYieldPer10k(row.yieldPer10k),
    change: outcomes[index]!,
    status: plan.status ?? 'missing',
    reason: plan.refusal ? { code: plan.refusal.code, detail: plan.refusal.detail } : null,
  }));
  const count = (change: ImportOutcome) => outcomes.filter((outcome) => outcome === change).length;
  return {
    fundCode: input.fundCode,
    dryRun: input.dryRun,
    startDate: state.startDate,
    counts: {
      rows: rows.length,
      new: count('new'),
      correction: count('correction'),
      unchanged: count('unchanged'),
      refused: count('refused'),
      conflict: count('conflict'),
      /** New or corrected days outside the plausibility band: they wait for a second ops user. */
      pending: plans.filter(({ plan }, index) => plan.status === 'pending' && ['new', 'correction'].includes(outcomes[index]!)).length,
      reference: plans.filter(({ plan }) => plan.status === 'reference' && !plan.refusal).length,
    },
    rows: rowViews,
  };
}

/** New days in one unordered insert (a day published meanwhile is a conflict), corrections a few at a time. */
async function writePlans(ctx: AppContext, fundCode: string, plans: DayPlan[], publishedBy: string): Promise<ImportOutcome[]> {
  const outcomes: ImportOutcome[] = plans.map((plan) => plan.change);
  const fresh = plans.flatMap((plan, index) => (plan.change === 'new' ? [index] : []));
  const publishedAt = ctx.clock.now();
  const documents = fresh.map((index) => {
    const { date, yieldPer10k, status } = plans[index]!;
    return { _id: fundDayId(fundCode, date), fundCode, date, status, yieldPer10k, publishedAt, publishedBy, confirmedAt: null, confirmedBy: null };
  });
  if (documents.length > 0) {
    try {
      await FundDay.insertMany(documents, { ordered: false });
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error;
      const writeErrors = Array.isArray(error.writeErrors) ? error.writeErrors : [error.writeErrors];
      if (writeErrors.some((writeError) => writeError.code !== 11000)) throw error;
      for (const writeError of writeErrors) outcomes[fresh[writeError.index]!] = 'conflict';
    }
  }
  const corrections = plans.flatMap((plan, index) => (plan.change === 'correction' ? [index] : []));
  for (let first = 0; first < corrections.length; first += CORRECTIONS_IN_FLIGHT) {
    const batch = corrections.slice(first, first + CORRECTIONS_IN_FLIGHT);
    const written = await Promise.all(batch.map((index) => writePlan(ctx, fundCode, plans[index]!, publishedBy)));
    batch.forEach((index, position) => {
      if (!written[position]) outcomes[index] = 'conflict';
    });
  }
  return outcomes;
}
