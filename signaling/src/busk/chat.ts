// Chat: messages of one busk on /topic/busk.{id}.chat, kept in State (CHAT_HISTORY) and replayed to
// each new subscriber, at most CHAT_RATE per user (and CHAT_RATE_PER_ADDRESS for guests).
import crypto from 'node:crypto';
import { AppError } from '../stomp';
import type { Principal, SessionInfo } from '../stomp';
import type { ChatMessage } from '../protocol';
import type { BuskContext } from './context';
import { replayToSubscription } from './replay';
import { KeyedRateLimit } from '../rate-limit';

export class Chat {
  private readonly limit: KeyedRateLimit;
  private readonly perAddress: KeyedRateLimit;

  constructor(private readonly ctx: BuskContext) {
    const { rate, ratePerAddress } = ctx.o.config.chat;
    this.limit = new KeyedRateLimit(rate.count, rate.windowMs);
    this.perAddress = new KeyedRateLimit(ratePerAddress.count, ratePerAddress.windowMs);
  }

  /**
   * `from` says `text` in busk `buskId` (which exists) from session `sessionId` at client `address`.
   * CHAT_RATE counts per user, whatever session they use; a guest is new with every session, which
   * costs nothing to open, so guests are also counted together per address (CHAT_RATE_PER_ADDRESS).
   */
  async say(from: Principal, sessionId: string, buskId: string, text: string, address?: string): Promise<void> {
    const { rate, ratePerAddress, history } = this.ctx.o.config.chat;
    if (!this.limit.take(from.anonymous ? sessionId : `user:${from.id}`)) throw new AppError('rate-limited', `at most ${rate.count} chat messages per ${rate.windowMs / 1000} s`);
    if (from.anonymous && address !== undefined && !this.perAddress.take(address)) {
      throw new AppError('rate-limited', `at most ${ratePerAddress.count} guest chat messages per ${ratePerAddress.windowMs / 1000} s from one address`);
    }
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
