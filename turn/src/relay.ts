// Signaling-service side of the sidecar: clients may SEND only to /app/** (the broker's rules), so
// the sidecar sends its batches to /app/ops.turn.events; this handler checks the ops role and
// republishes each event on /topic/ops.turn, which only ops may subscribe to. The signaling service
// wires it: registerTurnEventRelay(broker, { publish: bus.publish }) for cross-node delivery.
import { AppError } from '../../signaling/src/stomp/errors';
import type { AppHandler, AppRequest } from '../../signaling/src/stomp/types';

export const TURN_EVENTS_APP_DESTINATION = '/app/ops.turn.events';
export const TURN_EVENTS_TOPIC = '/topic/ops.turn';

export interface RelayBroker { app(pattern: string, handler: AppHandler): void }
export type Publish = (destination: string, body: string, headers?: Record<string, string>) => void;

const MAX_EVENTS_PER_BATCH = 1000;

export function turnEventRelayHandler(publish: Publish): AppHandler {
  return (req: AppRequest) => {
    const roles = req.session.principal?.roles ?? [];
    if (!roles.includes('ops')) throw new AppError('forbidden', 'only role ops may publish TURN events');
    const body = req.json<{ source?: unknown; events?: unknown }>();
    if (!body || !Array.isArray(body.events) || body.events.length > MAX_EVENTS_PER_BATCH) {
      throw new AppError('bad-request', `expected {source, events: [...]} with at most ${MAX_EVENTS_PER_BATCH} events`);
    }
    const source = typeof body.source === 'string' ? body.source.slice(0, 200) : '';
    for (const ev of body.events) {
      if (!ev || typeof ev !== 'object' || typeof (ev as { type?: unknown }).type !== 'string') continue;
      const type = (ev as { type: string }).type.slice(0, 64);
      publish(TURN_EVENTS_TOPIC, JSON.stringify({ ...ev, source }), { 'content-type': 'application/json', 'turn-event': type });
    }
  };
}

export function registerTurnEventRelay(broker: RelayBroker & { publish: Publish }, opts: { publish?: Publish } = {}): void {
  const publish = opts.publish ?? ((d, b, h) => broker.publish(d, b, h));
  broker.app(TURN_EVENTS_APP_DESTINATION, turnEventRelayHandler(publish));
}
