// /app/...: application handlers. Patterns use {name} for a parameter (one segment: no '/' or
// '.'), `*` for one anonymous segment and `**` for the rest: '/app/busk.{id}.offer'.
import type { AppHandler } from '../types';

interface Route {
  pattern: string;
  re: RegExp;
  names: string[];
  handler: AppHandler;
}

export interface AppMatch {
  handler: AppHandler;
  params: Record<string, string>;
}

function compile(pattern: string): { re: RegExp; names: string[] } {
  const names: string[] = [];
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '{') {
      const end = pattern.indexOf('}', i);
      if (end < 0) throw new Error(`unclosed { in app pattern ${pattern}`);
      names.push(pattern.slice(i + 1, end));
      re += '([^/.]+)';
      i = end;
    } else if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/.]+';
    else re += c.replace(/[.+?^$()|[\]\\]/g, '\\$&');
  }
  return { re: new RegExp(re + '$'), names };
}

export class AppRouter {
  private readonly exact = new Map<string, AppHandler>();
  private readonly routes: Route[] = [];

  add(pattern: string, handler: AppHandler): void {
    if (!pattern.startsWith('/')) throw new Error(`app pattern must start with /: ${pattern}`);
    if (!/[{*]/.test(pattern)) {
      this.exact.set(pattern, handler);
      return;
    }
    const { re, names } = compile(pattern);
    this.routes.push({ pattern, re, names, handler });
  }

  /** Exact patterns win; then patterns in registration order. */
  match(destination: string): AppMatch | null {
    const h = this.exact.get(destination);
    if (h) return { handler: h, params: {} };
    for (const r of this.routes) {
      const m = r.re.exec(destination);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => (params[n] = m[i + 1]));
      return { handler: r.handler, params };
    }
    return null;
  }
}
