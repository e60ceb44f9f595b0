// Comments on shorts: signed-in users only, length and rate limits, deletable by the author, the
// short's owner and role moderator; every change is also published live on /topic/short.{id}.comments.
import { AppError } from '../stomp/errors';
import type { Principal } from '../auth';
import { cleanText } from '../busk/validate';
import { KeyedRateLimit } from '../rate-limit';
import type { Store } from '../store';
import { ensureUser, iso, newId, notFound, page, signedIn } from './common';
import type { Page, PageQuery } from './common';

export interface PublicComment { id: string; from: { id: string; name: string }; text: string; at: string }

interface CommentRow { seq: string | number; id: string; author_id: string; author_name: string; text: string; created_at: Date }

export type Publish = (destination: string, body: string) => void;

export const commentsTopic = (shortId: string) => `/topic/short.${shortId}.comments`;

export interface CommentLimits { maxLength: number; rate: { count: number; windowMs: number } }

const SELECT = 'SELECT c.seq, c.id, c.author_id, u.name AS author_name, c.text, c.created_at FROM comments c JOIN users u ON u.id = c.author_id';

export class Comments {
  private readonly limiter: KeyedRateLimit;

  constructor(private readonly store: Store, private readonly publish: Publish, private readonly limits: CommentLimits) {
    this.limiter = new KeyedRateLimit(limits.rate.count, limits.rate.windowMs);
  }

  async list(shortId: string, q: PageQuery): Promise<Page<PublicComment>> {
    const db = await this.store.db();
    if (!(await db.query('SELECT 1 FROM shorts WHERE id = $1', [shortId])).length) throw notFound('short', shortId);
    const rows = q.before === null
      ? await db.query<CommentRow>(`${SELECT} WHERE c.short_id = $1 ORDER BY c.seq DESC LIMIT $2`, [shortId, q.limit])
      : await db.query<CommentRow>(`${SELECT} WHERE c.short_id = $1 AND c.seq < $2 ORDER BY c.seq DESC LIMIT $3`, [shortId, q.before, q.limit]);
    return page(rows, q.limit, toPublic);
  }

  async add(who: Principal | null, shortId: string, body: unknown): Promise<PublicComment> {
    const p = signedIn(who);
    const text = cleanText((body as { text?: unknown } | null)?.text, 'text', this.limits.maxLength, true, true);
    const db = await this.store.db();
    if (!(await db.query('SELECT 1 FROM shorts WHERE id = $1', [shortId])).length) throw notFound('short', shortId);
    // Counted after validation: a refused comment does not use up the allowance.
    if (!this.limiter.take(p.id)) throw new AppError('rate-limited', `at most ${this.limits.rate.count} comments per ${this.limits.rate.windowMs / 1000} s`);
    const id = newId();
    const row = await db.transaction(async (tx) => {
      await ensureUser(tx, p);
      // The short may have been deleted meanwhile: the foreign key refuses the row then.
      const upd = await tx.query('UPDATE shorts SET comments = comments + 1 WHERE id = $1 RETURNING id', [shortId]);
      if (!upd.length) throw notFound('short', shortId);
      await tx.query('INSERT INTO comments (id, short_id, author_id, text) VALUES ($1, $2, $3, $4)', [id, shortId, p.id, text]);
      return (await tx.query<CommentRow>(`${SELECT} WHERE c.id = $1`, [id]))[0];
    });
    const comment = toPublic(row);
    this.publish(commentsTopic(shortId), JSON.stringify({ type: 'comment', comment }));
    return comment;
  }

  async delete(who: Principal | null, id: string): Promise<void> {
    const p = signedIn(who);
    const db = await this.store.db();
    const shortId = await db.transaction(async (tx) => {
      const r = (await tx.query<{ short_id: string; author_id: string; owner_id: string }>(
        'SELECT c.short_id, c.author_id, s.owner_id FROM comments c JOIN shorts s ON s.id = c.short_id WHERE c.id = $1 FOR UPDATE OF c', [id]))[0];
      if (!r) throw notFound('comment', id);
      if (r.author_id !== p.id && r.owner_id !== p.id && !p.roles.includes('moderator')) {
        throw new AppError('forbidden', 'only the author, the short\'s owner or a moderator can delete a comment');
      }
      await tx.query('DELETE FROM comments WHERE id = $1', [id]);
      await tx.query('UPDATE shorts SET comments = comments - 1 WHERE id = $1', [r.short_id]);
      return r.short_id;
    });
    this.publish(commentsTopic(shortId), JSON.stringify({ type: 'deleted', id }));
  }
}

function toPublic(r: CommentRow): PublicComment {
  return { id: r.id, from: { id: r.author_id, name: r.author_name }, text: r.text, at: iso(r.created_at) };
}
