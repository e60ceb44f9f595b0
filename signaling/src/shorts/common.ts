// Helpers shared by recordings, shorts, comments and profiles: ids, who may act, cursors, the users
// row every author gets.
import crypto from 'node:crypto';
import { AppError } from '../stomp/errors';
import type { Principal } from '../auth';
import type { Queryable } from '../store';

/** 12 url-safe characters: unguessable, so a recording's or short's URL can be shared as a link. */
export function newId(): string {
  return crypto.randomBytes(9).toString('base64url');
}

export function signedIn(p: Principal | null): Principal {
  if (!p || p.anonymous) throw new AppError('unauthorized', 'sign in first (Authorization: Bearer <jwt>)');
  return p;
}

export function notFound(what: string, id: string): AppError {
  return new AppError('not-found', `no ${what} ${String(id).slice(0, 40)}`);
}

/** A page of a newest-first list; `next` is the cursor of the following page (null at the end). */
export interface Page<T> { items: T[]; next: string | null }

export const PAGE = { default: 20, max: 50 };

export interface PageQuery { before: number | null; limit: number }

/** `before` (a cursor from `next`) and `limit` from a query string. */
export function pageQuery(q: Record<string, unknown>): PageQuery {
  const before = q.before === undefined || q.before === '' ? null : Number(q.before);
  if (before !== null && (!Number.isSafeInteger(before) || before < 1)) throw new AppError('bad-request', 'before must be a cursor from a previous page (next)');
  const limit = q.limit === undefined ? PAGE.default : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE.max) throw new AppError('bad-request', `limit must be 1-${PAGE.max}`);
  return { before, limit };
}

export function page<R extends { seq: unknown }, T>(rows: R[], limit: number, map: (r: R) => T): Page<T> {
  return { items: rows.map(map), next: rows.length === limit ? String(rows[rows.length - 1].seq) : null };
}

/** Every author has a users row (the profile); its name starts as the token's name. */
export async function ensureUser(q: Queryable, p: Principal): Promise<void> {
  await q.query('INSERT INTO users (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [p.id, p.name.slice(0, 64) || p.id]);
}

/** A timestamp column as ISO 8601. A Date may come from another realm (a worker thread's clone), so no instanceof. */
export function iso(v: unknown): string {
  return Object.prototype.toString.call(v) === '[object Date]' ? (v as Date).toISOString() : new Date(String(v)).toISOString();
}
