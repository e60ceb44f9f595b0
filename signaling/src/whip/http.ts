// The WHIP and WHEP routes (RFC 9725; docs/PROTOCOL.md "OBS and other WebRTC tools"). Bodies are
// SDP, not JSON; errors keep the service's {code, message} with the RFC's statuses. CORS is open
// (browser WHIP/WHEP clients on other origins): the Bearer token, not a cookie, is the credential.
import express from 'express';
import type { Request, Response } from 'express';
import type { TokenVerifier } from '../auth';
import type { Config } from '../config';
import { bearerPrincipal, HttpError, iceServersFor, wrap } from '../http/app';
import { LIMITS } from '../busk/validate';
import type { Principal } from '../stomp';
import type { SessionKind, WhipService, WhipSession } from './index';
import { StreamKeys } from './stream-keys';

const SDP = 'application/sdp';
const SDPFRAG = 'application/trickle-ice-sdpfrag';

function cors(res: Response): void {
  res.set({
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Allow-Methods': 'POST, PATCH, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': 'Authorization, Content-Type, If-Match',
    'Access-Control-Expose-Headers': 'Location, Link, ETag, Accept-Post, Accept-Patch',
    'Access-Control-Max-Age': '600',
  });
}

/** RFC 9725 §4.6: one Link per ICE server (TURN with its short-lived credential, as /api/ice-servers gives). */
function iceLinks(config: Config, who: string | null): string[] {
  const servers = iceServersFor(config, who);
  const q = (s: string) => `"${s.replace(/["\\]/g, '')}"`;
  return servers.flatMap((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]).map((url) =>
    `<${url}>; rel="ice-server"${s.username ? `; username=${q(s.username)}; credential=${q(String(s.credential))}; credential-type="password"` : ''}`));
}

function needType(req: Request, type: string): void {
  if (!req.is(type)) throw new HttpError(415, 'unsupported-media-type', `the body must be ${type}`);
}

export function whipRouter(whip: WhipService, keys: StreamKeys, verifier: TokenVerifier, config: Config): express.Router {
  const r = express.Router();
  const body = express.text({ type: () => true, limit: LIMITS.sdp + 4096 });
  const who = (req: Request): Principal | null => bearerPrincipal(verifier, req);
  /** WHIP's Bearer: a stream key (OBS keeps it) or a busker's JWT. */
  const publisher = async (req: Request): Promise<Principal | null> => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
    if (m && StreamKeys.looksLikeKey(m[1]!)) {
      const p = await keys.principal(m[1]!);
      if (!p) throw new HttpError(401, 'unauthorized', 'unknown stream key (it may have been rotated): copy the current one from the studio');
      return p;
    }
    return who(req);
  };
  const created = (res: Response, kind: SessionKind, s: WhipSession, answer: string, p: Principal | null) => {
    res.status(201).set({ Location: `/${kind}/${s.id}`, ETag: s.etag, 'Content-Type': SDP, 'Accept-Patch': SDPFRAG, 'Cache-Control': 'no-store' });
    res.append('Link', iceLinks(config, p?.id ?? null));
    res.send(answer);
  };
  const patch = (kind: SessionKind) => wrap(async (req, res) => {
    cors(res);
    needType(req, SDPFRAG);
    await whip.trickle(kind, String(req.params.id), String(req.body ?? ''), req.get('if-match'));
    res.status(204).end();
  });
  const del = (kind: SessionKind) => wrap(async (req, res) => {
    cors(res);
    await whip.end(whip.get(kind, String(req.params.id)));
    res.status(200).end();
  });

  r.options(['/whip', '/whip/:id', '/whep/:id'], (req, res) => {
    cors(res);
    // RFC 9725 §4.1: 200, with Accept-Post; no ICE servers on a preflight (§4.6).
    if (req.path === '/whip' || req.path.startsWith('/whep/')) res.set('Accept-Post', SDP);
    res.status(200).end();
  });

  r.post('/whip', body, wrap(async (req, res) => {
    cors(res);
    try {
      const p = await publisher(req);
      needType(req, SDP);
      const { session, answer } = await whip.publish(p, String(req.body ?? ''), req.query as Record<string, unknown>);
      created(res, 'whip', session, answer, p);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'unauthorized') res.set('WWW-Authenticate', 'Bearer realm="whip"');
      throw e;
    }
  }));
  r.patch('/whip/:id', body, patch('whip'));
  r.delete('/whip/:id', del('whip'));

  r.post('/whep/:buskId', body, wrap(async (req, res) => {
    cors(res);
    needType(req, SDP);
    const p = who(req);
    const { session, answer } = await whip.play(p, String(req.params.buskId), String(req.body ?? ''));
    created(res, 'whep', session, answer, p);
  }));
  r.patch('/whep/:id', body, patch('whep'));
  r.delete('/whep/:id', del('whep'));

  // The signed-in busker's stream key: whether there is one, a new one (shown once), none.
  r.get('/api/me/stream-key', wrap(async (req, res) => { res.set('Cache-Control', 'no-store').json(await keys.status(who(req))); }));
  r.post('/api/me/stream-key', wrap(async (req, res) => { res.status(201).set('Cache-Control', 'no-store').json(await keys.rotate(who(req))); }));
  r.delete('/api/me/stream-key', wrap(async (req, res) => { await keys.revoke(who(req)); res.status(204).end(); }));
  return r;
}
