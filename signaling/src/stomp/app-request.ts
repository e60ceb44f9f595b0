// The request object an /app handler receives.
import { AppError } from './errors';
import type { AppRequest, SessionInfo } from './types';

export class Request implements AppRequest {
  constructor(
    readonly session: SessionInfo,
    readonly destination: string,
    readonly params: Record<string, string>,
    readonly headers: Record<string, string>,
    readonly body: Buffer,
  ) {}

  text(): string {
    return this.body.toString('utf8');
  }

  json<T = unknown>(): T {
    try {
      return JSON.parse(this.text()) as T;
    } catch {
      throw new AppError('bad-request', 'body is not valid JSON');
    }
  }
}
