import { DomainError } from '../errors.ts';
import { formatYuan, type Fen } from '../money/fen.ts';

export const fundRequired = () =>
  new DomainError('fund_required', 'The first transfer-in picks a fund: send fundCode (GET /v1/funds lists them)');
export const requestInProgress = (operationId: string) =>
  new DomainError('request_in_progress', 'A request with this Idempotency-Key is still being processed', { operationId });
export const amountAboveMaximum = (operationMaxFen: Fen) =>
  new DomainError('amount_above_maximum', `One request moves at most ${formatYuan(operationMaxFen)} yuan`, {}, { values: { maximum: formatYuan(operationMaxFen) } });
