// Input checks for every client message. Each failure is an AppError('bad-request') with a message
// a person can act on; nothing is changed before validation passed.
import { AppError } from '../stomp';
import type { Location } from '../state';
import type { IceCandidate } from '../media';

export const LIMITS = {
  title: 120,
  description: 1000,
  hashtags: 10,
  hashtag: 32,
  sdp: 64 * 1024,
  // A browser offers one media section per track: a viewer audio + video, a presenter the same (a
  // data channel would make three). Each section costs the media server a transceiver, RTP state and
  // codec matching: ten anonymous offers of ~600 sections each stalled a node for 3 s and doubled its
  // memory (issue 17). Four leaves room for a second camera, not for a flood.
  sdpMediaSections: 4,
  // A browser's audio + video offer is 150-300 lines (every codec with its rtx, rtcp-fb and fmtp lines).
  sdpLines: 1000,
  // Candidates gathered into the offer itself (OBS/WHIP sends them all there): a host has a handful.
  sdpCandidates: 50,
  candidate: 1024,
};

export function bad(message: string): AppError {
  return new AppError('bad-request', message);
}

function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

// Control characters (C0, DEL, C1), Unicode line/paragraph separators and bidi overrides: they
// break lines in logs and terminals or reorder what a reader sees (issue 17). Newline and tab are
// kept only where text is multi-line (a description).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_BUT_NEWLINE_TAB = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Text as data: trimmed, no control characters (but newline/tab when `multiline`), at most `max` characters. */
export function cleanText(v: unknown, what: string, max: number, required: boolean, multiline = false): string {
  if (v === undefined || v === null) {
    if (required) throw bad(`${what} is required`);
    return '';
  }
  if (typeof v !== 'string') throw bad(`${what} must be a string`);
  const s = v.replace(multiline ? CONTROL_BUT_NEWLINE_TAB : CONTROL, '').trim();
  if (required && !s) throw bad(`${what} must not be empty`);
  if ([...s].length > max) throw bad(`${what} is longer than ${max} characters`);
  return s;
}

export function parseLocation(v: unknown): Location | null {
  if (v === null || v === undefined) return null;
  const o = obj(v, 'location');
  const { lat, lng, accuracy } = o;
  if (typeof lat !== 'number' || !Number.isFinite(lat) || lat < -90 || lat > 90) throw bad('location.lat must be a number in [-90, 90]');
  if (typeof lng !== 'number' || !Number.isFinite(lng) || lng < -180 || lng > 180) throw bad('location.lng must be a number in [-180, 180]');
  const loc: Location = { lat, lng };
  if (accuracy !== undefined && accuracy !== null) {
    if (typeof accuracy !== 'number' || !Number.isFinite(accuracy) || accuracy < 0) throw bad('location.accuracy must be a non-negative number (metres)');
    loc.accuracy = accuracy;
  }
  return loc;
}

export interface StartRequest {
  title: string;
  description: string;
  hashtags: string[];
  location: Location | null;
  record?: boolean;
}

export function parseStart(body: unknown): StartRequest {
  const o = obj(body, 'busk.start body');
  const title = cleanText(o.title, 'title', LIMITS.title, true);
  const description = cleanText(o.description, 'description', LIMITS.description, false, true);
  let hashtags: string[] = [];
  if (o.hashtags !== undefined && o.hashtags !== null) {
    if (!Array.isArray(o.hashtags)) throw bad('hashtags must be an array of strings');
    if (o.hashtags.length > LIMITS.hashtags) throw bad(`at most ${LIMITS.hashtags} hashtags`);
    hashtags = [...new Set(o.hashtags.map((h) => {
      if (typeof h !== 'string') throw bad('hashtags must be strings');
      const t = h.trim().replace(/^#/, '').toLowerCase();
      if (!/^[\p{L}\p{N}_-]{1,32}$/u.test(t)) throw bad(`hashtag "${h.slice(0, 40)}" must be 1-${LIMITS.hashtag} letters, digits, _ or -`);
      return t;
    }))];
  }
  if (o.record !== undefined && o.record !== null && typeof o.record !== 'boolean') throw bad('record must be true or false');
  return { title, description, hashtags, location: parseLocation(o.location), record: o.record === true };
}

export function parseOffer(body: unknown): string {
  const o = obj(body, 'offer body');
  const sdp = o.sdpOffer;
  if (typeof sdp !== 'string' || !sdp) throw bad('sdpOffer must be a string');
  if (sdp.length > LIMITS.sdp) throw bad(`sdpOffer is larger than ${LIMITS.sdp} bytes`);
  // Cheap sanity check before the media server sees it: an SDP starts with v=0 and has a media line.
  if (!/^v=0\r?\n/.test(sdp) || !/\nm=(audio|video) /.test(sdp)) throw bad('sdpOffer is not an SDP offer (v=0 ... m=)');
  const lines = sdp.split('\n');
  let sections = 0;
  let candidates = 0;
  for (const l of lines) {
    if (l.startsWith('m=')) sections++;
    else if (l.startsWith('a=candidate:')) candidates++;
  }
  if (sections > LIMITS.sdpMediaSections) throw bad(`sdpOffer has ${sections} media sections (m= lines); at most ${LIMITS.sdpMediaSections}`);
  if (lines.length > LIMITS.sdpLines) throw bad(`sdpOffer has more than ${LIMITS.sdpLines} lines`);
  if (candidates > LIMITS.sdpCandidates) throw bad(`sdpOffer has more than ${LIMITS.sdpCandidates} candidates`);
  return sdp;
}

export function parseIce(body: unknown): IceCandidate {
  const o = obj(body, 'ice body');
  const c = obj(o.candidate, 'candidate');
  if (typeof c.candidate !== 'string' || c.candidate.length > LIMITS.candidate) throw bad('candidate.candidate must be a string');
  const sdpMid = c.sdpMid === undefined || c.sdpMid === null ? '' : c.sdpMid;
  if (typeof sdpMid !== 'string' || sdpMid.length > 64) throw bad('candidate.sdpMid must be a string');
  const idx = c.sdpMLineIndex === undefined || c.sdpMLineIndex === null ? 0 : c.sdpMLineIndex;
  if (typeof idx !== 'number' || !Number.isInteger(idx) || idx < 0 || idx > 64) throw bad('candidate.sdpMLineIndex must be a small integer');
  return { candidate: c.candidate.replace(/^a=/, ''), sdpMid, sdpMLineIndex: idx };
}

export function parseChat(body: unknown, maxLength: number): string {
  const o = obj(body, 'chat body');
  return cleanText(o.text, 'text', maxLength, true);
}

export function parseToken(body: unknown): string {
  const o = obj(body, 'auth.refresh body');
  if (typeof o.token !== 'string' || !o.token) throw bad('token must be a string');
  return o.token;
}
