// Turns the monitor's evidence into plain-words explanations of common coturn faults. Pure: the
// monitor gathers the numbers, this file decides what they mean and how to say it.

export type DiagnosisId = 'no-credentials-sent' | 'realm-missing-or-wrong' | 'expired-credentials' | 'wrong-secret' | 'clock-skew' | 'quota-reached' | 'peer-denied';

export interface Diagnosis {
  id: DiagnosisId;
  severity: 'warning' | 'error';
  /** One or two sentences an operator can act on. */
  message: string;
  /** Events behind it within the diagnosis window. */
  count: number;
  details: Record<string, unknown>;
}

export interface Evidence {
  windowMinutes: number;
  /** 401s to requests that carried no username and were never followed by one on that session. */
  unanswered401s: number;
  unansweredSessions: number;
  /** Sessions that did authenticate in the same window (context: is everything failing?). */
  authenticatedSessions: number;
  realms: string[];
  /** 401s whose realm was empty (`realm <>`: coturn has none) or not the expected one. */
  realm: { missing: number; wrong: number; wrongRealms: string[]; expected: string | null };
  /** "Cannot find credentials" for shared-secret usernames whose expiry had passed at log time. */
  expired: { count: number; users: string[]; maxExpiredForS: number; minExpiredForS: number };
  /** Rejected although not expired: the HMAC did not match. */
  wrongSecret: { count: number; users: string[] };
  /** Seconds coturn's clock is behind the credential issuer's, from credentials dated beyond the TTL. */
  skewSeconds: number | null;
  ttlSeconds: number | null;
  quota: { count: number; users: string[] };
  peerDenied: { count: number; peers: string[] };
}

/** The fix of each diagnosis in a few fixed words, without numbers: a bounded metric label
 *  (turn_diagnoses{fix}) that alert annotations quote. The full message is in /api/ops/turn. */
export const DIAGNOSIS_FIXES: Record<DiagnosisId, string> = {
  'no-credentials-sent': 'no credentials sent: clients must use the username and credential from GET /api/ice-servers',
  'realm-missing-or-wrong': 'realm missing or wrong: set the same realm= in every turnserver.conf and restart coturn',
  'expired-credentials': 'expired credentials: clients must fetch GET /api/ice-servers again before reconnecting; check NTP',
  'wrong-secret': 'wrong secret: TURN_SECRET of the service differs from static-auth-secret in turnserver.conf',
  'clock-skew': 'clock skew between the signaling service and coturn: synchronise both clocks (NTP)',
  'quota-reached': 'allocation quota reached: find who holds the sessions, or raise user-quota/total-quota',
  'peer-denied': 'peer denied: allow the media server address with allowed-peer-ip',
};

const list = (xs: string[], max = 5) => xs.slice(0, max).map((x) => `"${x}"`).join(', ') + (xs.length > max ? ` and ${xs.length - max} more` : '');

export const UNANSWERED_401_THRESHOLD = 5;
/** Credentials can legitimately arrive this much "early" (issuer and coturn clocks on NTP). */
export const SKEW_TOLERANCE_S = 30;

export function diagnose(e: Evidence): Diagnosis[] {
  const out: Diagnosis[] = [];
  const w = `in the last ${e.windowMinutes} minutes`;

  if (e.unanswered401s >= UNANSWERED_401_THRESHOLD) {
    const realm = e.realms.length ? ` (coturn's realm: ${list(e.realms, 3)})` : '';
    out.push({
      id: 'no-credentials-sent', severity: e.authenticatedSessions === 0 ? 'error' : 'warning', count: e.unanswered401s,
      message: `No credentials sent: ${e.unanswered401s} TURN requests from ${e.unansweredSessions} client session(s) ${w} came without a username (username=<>), were answered 401 and the client never came back with one${realm}. ` +
        `Fix: give browsers the TURN username and credential from GET /api/ice-servers (an iceServers entry without them, or stale static ones, does this); ` +
        `if the page already does, check that coturn's realm is set (see "realm missing or wrong").`,
      details: { unansweredSessions: e.unansweredSessions, authenticatedSessions: e.authenticatedSessions, realms: e.realms },
    });
  }

  if (e.realm.missing > 0) {
    out.push({
      id: 'realm-missing-or-wrong', severity: 'error', count: e.realm.missing,
      message: `Realm missing: ${e.realm.missing} TURN requests ${w} were refused 401 with an empty realm (realm <>): coturn has no realm set, so no client can answer its challenge and every relay fails. ` +
        `Fix: add realm=<your domain> to turnserver.conf (the same value on every TURN server) and restart coturn.`,
      details: { missing: e.realm.missing, expected: e.realm.expected },
    });
  } else if (e.realm.wrong > 0) {
    out.push({
      id: 'realm-missing-or-wrong', severity: 'error', count: e.realm.wrong,
      message: `Wrong realm: ${e.realm.wrong} TURN requests ${w} were refused 401 in realm ${list(e.realm.wrongRealms, 3)}${e.realm.expected ? `, not the configured "${e.realm.expected}"` : ''}. ` +
        `Fix: set the same realm= in every turnserver.conf behind the TURN_URLS the service hands out, and restart coturn.`,
      details: { wrong: e.realm.wrong, realms: e.realm.wrongRealms, expected: e.realm.expected },
    });
  }

  if (e.expired.count > 0) {
    const by = Math.round(e.expired.maxExpiredForS);
    const skewHint = e.ttlSeconds
      ? ` If these clients had just fetched them, coturn's clock is about ${Math.round(e.expired.minExpiredForS + e.ttlSeconds)} s ahead of the signaling server's (check NTP on both).`
      : ' If these clients had just fetched them, coturn\'s clock is ahead of the signaling server\'s (check NTP on both).';
    out.push({
      id: 'expired-credentials', severity: 'warning', count: e.expired.count,
      message: `${e.expired.count} TURN requests ${w} used expired shared-secret credentials ("Cannot find credentials") from ${list(e.expired.users)}; ` +
        `the newest had expired ${Math.round(e.expired.minExpiredForS)} s and the oldest ${by} s before coturn's log time. ` +
        `Clients must fetch GET /api/ice-servers again before (re)connecting instead of reusing old credentials.` + skewHint,
      details: { users: e.expired.users, minExpiredForSeconds: Math.round(e.expired.minExpiredForS), maxExpiredForSeconds: by, ttlSeconds: e.ttlSeconds },
    });
  }

  if (e.wrongSecret.count > 0) {
    out.push({
      id: 'wrong-secret', severity: 'error', count: e.wrongSecret.count,
      message: `${e.wrongSecret.count} TURN requests ${w} from ${list(e.wrongSecret.users)} were refused although their credentials had not expired: ` +
        `the password does not match the username, so the signaling service's TURN_SECRET differs from coturn's static-auth-secret (or the client altered the password).`,
      details: { users: e.wrongSecret.users },
    });
  }

  // Only a positive lead is evidence: credentials used late, or issued with a shorter TTL than
  // configured, merely look "less ahead".
  if (e.skewSeconds !== null && e.skewSeconds > SKEW_TOLERANCE_S) {
    out.push({
      id: 'clock-skew', severity: 'warning', count: 1,
      message: `Credentials reach coturn with more lifetime left than TURN_TTL_S allows: the signaling server's clock is about ${Math.round(e.skewSeconds)} s ahead of coturn's. ` +
        `Credentials will seem to live longer than configured (and a clock going the other way makes fresh ones look expired); synchronise both clocks (NTP).`,
      details: { skewSeconds: Math.round(e.skewSeconds), ttlSeconds: e.ttlSeconds },
    });
  }

  if (e.quota.count > 0) {
    out.push({
      id: 'quota-reached', severity: 'warning', count: e.quota.count,
      message: `${e.quota.count} allocations ${w} were refused with 486 Allocation Quota Reached (users ${list(e.quota.users)}): ` +
        `a user holds user-quota allocations at once (many tabs, or clients that never release their allocations), or the server hit total-quota. ` +
        `Find who holds the sessions below, or raise user-quota/total-quota in turnserver.conf.`,
      details: { users: e.quota.users },
    });
  }

  if (e.peerDenied.count > 0) {
    out.push({
      id: 'peer-denied', severity: 'warning', count: e.peerDenied.count,
      message: `${e.peerDenied.count} permissions ${w} were refused for peers ${list(e.peerDenied.peers)} (denied-peer-ip / loopback rules). ` +
        `If one of them is the media server, allow exactly its address with allowed-peer-ip.`,
      details: { peers: e.peerDenied.peers },
    });
  }
  return out;
}
