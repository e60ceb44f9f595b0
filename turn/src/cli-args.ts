// Tiny `--name value` / `--name=value` / positional parser for the turn CLIs (no dependency).
export interface ParsedArgs { flags: Record<string, string | true>; positional: string[] }

export function parseArgs(argv: string[]): ParsedArgs {
  const flags: Record<string, string | true> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-' || !a.startsWith('--')) { positional.push(a); continue; }
    const eq = a.indexOf('=');
    if (eq > 0) { flags[a.slice(2, eq)] = a.slice(eq + 1); continue; }
    const next = argv[i + 1];
    if (next !== undefined && (!next.startsWith('-') || next === '-') && !BOOLEAN.has(a.slice(2))) { flags[a.slice(2)] = next; i++; }
    else flags[a.slice(2)] = true;
  }
  return { flags, positional };
}

const BOOLEAN = new Set(['from-start', 'from-end', 'once', 'help', 'json']);

export function str(v: string | true | undefined): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
