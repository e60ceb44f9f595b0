// Chat: messages of one busk on /topic/busk.{id}.chat, kept in State (CHAT_HISTORY) and replayed to
// each new subscriber, at most CHAT_RATE per session.
import crypto from 'node:crypto';
import { AppError } from '../stomp';
import type { Principal, SessionInfo } from '../stomp';
import type { ChatMessage } from '../protocol';
import type { BuskContext } from './context';
import { replayToSubscription } from './replay';
import { KeyedRateLimit } from '../rate-limit';

export class Chat {
  private readonly limit: KeyedRateLimit;

  constructor(private readonly ctx: BuskContext) {
    this.limit = new KeyedRateLimit(ctx.o.config.chat.rate.count, ctx.o.config.chat.rate.windowMs);
  }

  /** `from` says `text` in busk `buskId` (which exists); `senderId` is what the rate limit counts. */
  async say(from: Principal, senderId: string, buskId: string, text: string): Promise<void> {
    const { rate, history } = this.ctx.o.config.chat;
    if (!this.limit.take(senderId)) throw new AppError('rate-limited', `at most ${rate.count} chat messages per ${rate.windowMs / 1000} s`);
    const msg: ChatMessage = {
      id: crypto.randomBytes(8).toString('base64url'),
      from: { id: from.id, name: from.name, anonymous: from.anonymous },
      text, at: new Date().toISOString(),
    };
    await this.ctx.o.state.appendChat(buskId, msg, Math.max(1, history));
    this.ctx.o.metrics.chatMessages.inc();
    this.ctx.publish(`/topic/busk.${buskId}.chat`, msg);
  }

  /** A new subscriber of a chat topic gets the history, on its own subscription only. */
  async onSubscribe(s: SessionInfo, sub: { id: string; destination: string }): Promise<void> {
    const m = /^\/topic\/busk\.([^.]+)\.chat$/.exec(sub.destination);
    const n = this.ctx.o.config.chat.history;
    if (!m || n <= 0) return;
    const history = await this.ctx.o.state.chatHistory(m[1], n);
    // To this subscription only: everyone else subscribed to the topic has seen these messages.
    replayToSubscription(this.ctx.o.broker, s.id, sub.id, history.map((msg) => JSON.stringify(msg)));
  }

  forgetSession(sessionId: string): void { this.limit.forget(sessionId); }
}
