import type { Request, Response } from 'express';
import type { Answer } from '../transfers/service.ts';
import { DomainError } from '../errors.ts';

const KEY_PATTERN = /^[A-Za-z0-9_.:-]{8,128}$/;

/** Every request that moves money names itself, so a retry can be recognised. */
export function idempotencyKeyOf(req: Request): string {
  const key = req.get('idempotency-key');
  if (!key) throw new DomainError('idempotency_key_required', 'Send an Idempotency-Key header (8 to 128 of A-Z a-z 0-9 _ . : -)');
  if (!KEY_PATTERN.test(key)) throw new DomainError('invalid_idempotency_key', 'The Idempotency-Key must be 8 to 128 of A-Z a-z 0-9 _ . : -');
  return key;
}

export function sendAnswer(res: Response, answer: Answer): void {
  if (answer.replayed) res.set('Idempotent-Replayed', 'true');
  res
    .status(answer.status)
    .type(answer.status >= 400 ? 'application/problem+json' : 'application/json')
    .json(answer.body);
}
