import { DomainError, FAILURE_DETAIL } from '../errors.ts';
import { formatYuan } from '../money/fen.ts';
import type { RenderedAnswer } from '../operations/answers.ts';
import type { OperationDocument } from '../operations/model.ts';
import { operationView } from '../operations/service.ts';
import { problemOf } from './problem.ts';

/** What a holder refused an instant redemption can do instead. */
function normalRedemptionOffer(operation: OperationDocument) {
  return { method: 'POST', path: '/v1/me/redemptions', channel: 'wallet', amount: formatYuan(operation.amountFen), settleDate: operation.dueDate };
}

/** A money request's answer: the problem its failure code maps to, else the operation (202 while the bank has not answered). */
export function answerFor(operation: OperationDocument): RenderedAnswer {
  const code = operation.failure?.code;
  if (operation.status === 'failed' && code) {
    const { detail, remainingToday } = operation.failure!;
    const extra = {
      operationId: operation._id,
      ...(code === 'reserve_exhausted' ? { alternative: normalRedemptionOffer(operation) } : {}),
      ...(remainingToday ? { remainingToday } : {}),
    };
    return problemOf(new DomainError(code, detail || (FAILURE_DETAIL[code] ?? code), extra));
  }
  return { status: operation.status === 'pending' ? 202 : 201, body: { operation: operationView(operation) } };
}
