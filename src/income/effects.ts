import type { AppContext } from '../context.ts';
import { DomainError } from '../errors.ts';
import { ledgerAccount } from '../accounts/legs.ts';
import { Operation, type OperationDocument } from '../operations/model.ts';
import { advanceOperation } from '../operations/machine.ts';
import { bookKey, partitionOf } from './model.ts';

/** The fields that file an operation under the day its share postings start or stop earning. */
export function sharesEffect(ctx: AppContext, userId: string, fundCode: string, date: string) {
  const partition = partitionOf(userId, ctx.config.accrual.partitions);
  return { sharesEffectDate: date, sharesEffectKey: bookKey(fundCode, date, partition) };
}

/**
 * The day a redemption's shares stop earning: the request day (Yu'e Bao), or the trade date
 * under the classic fund rule (they earn until the day before T).
 */
export function redemptionEffectDate(ctx: AppContext, requestDate: string, tradeDate: string): string {
  return ctx.config.redemption.redeemedSharesEarnUntil === 'requestDay' ? requestDate : tradeDate;
}

/** An operation still moving shares when the accrual of its effect day wants to count them. */
export class AccrualNotReadyError extends DomainError {
  constructor(operationId: string) {
    super('accrual_not_ready', `Operation ${operationId} is still in flight; the accrual tries again later`, { operationId });
  }
}

/**
 * Net change of earning shares per holder on `date` in one partition: the sum of each
 * operation's postings to the holder's shares. Operations due by then are driven first (a
 * confirmation the due job has not reached yet, a request a crash left pending), so what
 * is counted is final. On a fund's first accrued day every earlier operation counts too.
 */
export async function shareChanges(
  ctx: AppContext,
  fundCode: string,
  date: string,
  partition: number,
  firstDay: boolean,
): Promise<Map<string, bigint>> {
  const operations = firstDay
    ? (await Operation.find({ fundCode }).lean<OperationDocument[]>()).filter(
        (op) => op.sharesEffectDate != null && op.sharesEffectDate <= date && partitionOf(op.userId, ctx.config.accrual.partitions) === partition,
      )
    : await Operation.find({ sharesEffectKey: bookKey(fundCode, date, partition) }).lean<OperationDocument[]>();
  const changes = new Map<string, bigint>();
  for (const found of operations) {
    const op = await settled(ctx, found);
    const sharesAccount = ledgerAccount.shares(op.userId);
    const changeFen = op.postings.filter((posting) => posting.account === sharesAccount).reduce((sum, posting) => sum + posting.amountFen, 0n);
    changes.set(op.userId, (changes.get(op.userId) ?? 0n) + changeFen);
  }
  return changes;
}

async function settled(ctx: AppContext, op: OperationDocument): Promise<OperationDocument> {
  if (op.status === 'awaiting_confirmation') op = await advanceOperation(ctx, op, 'request');
  if (op.status === 'pending' && ctx.clock.now().getTime() - op.updatedAt.getTime() >= ctx.config.jobs.recoverAfterMs) {
    op = await advanceOperation(ctx, op, 'recovery');
  }
  if (op.status === 'pending' || op.status === 'awaiting_confirmation') throw new AccrualNotReadyError(op._id);
  return op;
}
