// Query parameters both database backends check before they reach PostgreSQL.
import { AppError } from '../stomp/errors';

/**
 * PostgreSQL text cannot hold U+0000: a parameter with one failed inside the database as a 500
 * (the chaos fuzzer's GET /api/shorts/X%00). Refused here, for both backends, as bad input.
 */
export function checkParams(params: readonly unknown[]): readonly unknown[] {
  for (const p of params) if (typeof p === 'string' && p.includes('\0')) throw new AppError('bad-request', 'text may not contain NUL characters');
  return params;
}
