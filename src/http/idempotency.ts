import type { Request, Response } from 'express';
import type { Answer } from '../transfers/service.ts';
import { DomainError } from '../errors.ts';
import { answerLanguage } from './language.ts';
import { problemIn } from './problem.ts';

const KEY_PATTERN = /^[A-Za-z0-9_.:-]{8,128}$/;

/** Every request that moves money names itself, so a retry can be recognised. */
export function idempotencyKeyOf(req: Request): string {
  const key = req.get('idempotency-key');
  if (!key) throw new DomainError('idempotency_key_required', 'Send an Idempotency-Key header (8 to 128 of A-Z a-z 0-9 _ . : -)');
  if (!KEY_PATTERN.test(key)) throw new DomainError('invalid_idempotency_key', 'The Idempotency-Key must be 8 to 128 of A-Z a-z 0-9 _ . : -');
  return key;
}

/** The answer as stored (a replay repeats it), a problem read in the caller's language: its code and facts never change. */
export function sendAnswer(res: Response, answer: Answer): void {
  if (answer.replayed) res.set('Idempotent-Replayed', 'true');
  const problem = answer.status >= 400;
  res
    .status(answer.status)
    .type(problem ? 'application/problem+json' : 'application/json')
    .json(problem ? problemIn(answerLanguage(res), answer.body as Record<string, unknown>) : answer.body);
}
