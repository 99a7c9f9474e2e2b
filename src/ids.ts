import { randomBytes } from 'node:crypto';

/** Random, URL-safe ids with a type prefix (u_..., op_...), 72 bits of randomness. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(9).toString('base64url')}`;
}
