// Signaling-service side of the sidecar: clients may SEND only to /app/** (the broker's rules), so
// the sidecar sends its batches to /app/ops.turn.events; this handler checks the role (turn-sidecar or ops) and
// republishes each event on /topic/ops.turn, which only ops may subscribe to. The signaling service
// wires it: registerTurnEventRelay(broker, { publish: bus.publish, reject }) for cross-node delivery.
// turn/ knows nothing of the broker's internals: it names the little it needs of a request here,
// and the service hands it the error its broker reports to the sender (`reject`).

export const TURN_EVENTS_APP_DESTINATION = '/app/ops.turn.events';
export const TURN_EVENTS_TOPIC = '/topic/ops.turn';

/** What the relay reads of an /app request (the broker's AppRequest has it). */
export interface RelayRequest {
  session: { principal: { roles: string[] } | null };
  json<T = unknown>(): T;
}
export type RelayHandler = (req: RelayRequest) => void;
export interface RelayBroker { app(pattern: string, handler: RelayHandler): void }
export type Publish = (destination: string, body: string, headers?: Record<string, string>) => void;
/** The error the broker reports to the sending session with this PROTOCOL.md code. */
export type Reject = (code: 'forbidden' | 'bad-request', message: string) => Error;

/** The broker's AppError contract without importing it: an Error named AppError with a code. */
const appError: Reject = (code, message) => Object.assign(new Error(message), { name: 'AppError', code });

const MAX_EVENTS_PER_BATCH = 1000;
/** turn-sidecar: the sidecar's own narrow role (it may send here and nowhere else); ops: people and older tokens. */
const PUBLISHER_ROLES = ['turn-sidecar', 'ops'];

export function turnEventRelayHandler(publish: Publish, reject: Reject = appError): RelayHandler {
  return (req) => {
    const roles = req.session.principal?.roles ?? [];
    if (!roles.some((r) => PUBLISHER_ROLES.includes(r))) throw reject('forbidden', 'only role turn-sidecar or ops may publish TURN events');
    const body = req.json<{ source?: unknown; events?: unknown }>();
    if (!body || !Array.isArray(body.events) || body.events.length > MAX_EVENTS_PER_BATCH) {
      throw reject('bad-request', `expected {source, events: [...]} with at most ${MAX_EVENTS_PER_BATCH} events`);
    }
    const source = typeof body.source === 'string' ? body.source.slice(0, 200) : '';
    for (const ev of body.events) {
      if (!ev || typeof ev !== 'object' || typeof (ev as { type?: unknown }).type !== 'string') continue;
      const type = (ev as { type: string }).type.slice(0, 64);
      publish(TURN_EVENTS_TOPIC, JSON.stringify({ ...ev, source }), { 'content-type': 'application/json', 'turn-event': type });
    }
  };
}

export function registerTurnEventRelay(broker: RelayBroker & { publish: Publish }, opts: { publish?: Publish; reject?: Reject } = {}): void {
  const publish = opts.publish ?? ((d, b, h) => broker.publish(d, b, h));
  broker.app(TURN_EVENTS_APP_DESTINATION, turnEventRelayHandler(publish, opts.reject));
}
