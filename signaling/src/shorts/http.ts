// REST of "After the show" (docs/PROTOCOL.md): recordings, shorts, comments, profiles, and the media
// files themselves under /media (range requests).
import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import type { Request, Response } from 'express';
import { AppError } from '../stomp/errors';
import type { TokenVerifier } from '../auth';
import { bearerPrincipal, parseBuskQuery, wrap } from '../http/app';
import { MEDIA_PATH } from '../store';
import type { AfterShow } from './index';
import { AVATAR_MAX_BYTES } from './profiles';
import { notFound, pageQuery, signedIn } from './common';
import type { FeedQuery } from './shorts';

export function afterShowRouter(a: AfterShow, verifier: TokenVerifier, webDir: string): express.Router {
  const r = express.Router();
  const who = (req: Request) => bearerPrincipal(verifier, req);
  const json = express.json({ limit: '16kb' });
  const noStore = (res: Response) => res.set('Cache-Control', 'no-store');

  r.use(MEDIA_PATH, a.store.media.handler());

  // Profile pages: one HTML page (web/public/profile.html) reads the id from the path.
  r.get('/u/:id', (_req, res, next) => res.sendFile(path.join(webDir, 'profile.html'), (e) => { if (e) next(); }));

  r.get('/api/recordings', wrap(async (req, res) => {
    const p = signedIn(who(req));
    if (req.query.mine !== '1') throw new AppError('bad-request', 'only your own recordings can be listed: ?mine=1');
    noStore(res).json(await a.recordings.mine(p));
  }));

  // The recording's file, for the studio's timeline (range requests: res.sendFile answers them).
  r.get('/api/recordings/:id/video', wrap(async (req, res) => {
    const rec = await a.recordings.row(String(req.params.id));
    if (!rec || !fs.existsSync(a.recordings.path(rec))) throw notFound('recording', String(req.params.id));
    await new Promise<void>((resolve, reject) => res.sendFile(a.recordings.path(rec), { headers: { 'Content-Type': rec.content_type } }, (e) => (e && !res.headersSent ? reject(e) : resolve())));
  }));

  r.post('/api/shorts', json, wrap(async (req, res) => {
    res.status(201).json(await a.shorts.create(who(req), req.body));
  }));

  r.get('/api/shorts', wrap(async (req, res) => {
    const q = req.query as Record<string, unknown>;
    const feed: FeedQuery = pageQuery(q);
    const only = ['tag', 'by', 'near'].filter((k) => q[k] !== undefined);
    if (only.length > 1) throw new AppError('bad-request', 'use one of tag, by or near');
    // tag and near are read as the busk list reads them (same rules, same messages).
    const bq = parseBuskQuery({ tag: q.tag, near: q.near, radius: q.radius });
    if (bq.tag) feed.tag = bq.tag;
    if (bq.near) feed.near = bq.near;
    if (q.by !== undefined) {
      if (typeof q.by !== 'string' || !q.by || q.by.length > 128) throw new AppError('bad-request', 'by must be a user id');
      feed.by = q.by;
    }
    noStore(res).json(await a.shorts.feed(feed));
  }));

  r.get('/api/shorts/:id', wrap(async (req, res) => {
    const s = await a.shorts.get(String(req.params.id));
    if (!s) throw notFound('short', String(req.params.id));
    noStore(res).json(s);
  }));

  r.post('/api/shorts/:id/views', wrap(async (req, res) => {
    res.json({ views: await a.shorts.view(String(req.params.id)) });
  }));

  r.delete('/api/shorts/:id', wrap(async (req, res) => {
    await a.shorts.delete(who(req), String(req.params.id));
    res.status(204).end();
  }));

  r.get('/api/shorts/:id/comments', wrap(async (req, res) => {
    noStore(res).json(await a.comments.list(String(req.params.id), pageQuery(req.query as Record<string, unknown>)));
  }));

  r.post('/api/shorts/:id/comments', json, wrap(async (req, res) => {
    res.status(201).json(await a.comments.add(who(req), String(req.params.id), req.body));
  }));

  r.delete('/api/comments/:id', wrap(async (req, res) => {
    await a.comments.delete(who(req), String(req.params.id));
    res.status(204).end();
  }));

  r.get('/api/users/:id', wrap(async (req, res) => {
    noStore(res).json(await a.profiles.get(String(req.params.id)));
  }));

  r.put('/api/me/profile', json, wrap(async (req, res) => {
    res.json(await a.profiles.update(who(req), req.body));
  }));

  // Any Content-Type: the type is decided by the bytes (profiles.imageType). The token is checked
  // before the body is read, so an anonymous upload is refused without reading 2 MB.
  r.put('/api/me/avatar', (req, _res, next) => { try { signedIn(who(req)); next(); } catch (e) { next(e); } }, express.raw({ type: () => true, limit: AVATAR_MAX_BYTES }), wrap(async (req, res) => {
    res.json(await a.profiles.setAvatar(who(req), req.body));
  }));

  return r;
}
