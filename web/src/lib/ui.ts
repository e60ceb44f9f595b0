// DOM helpers. Everything a person typed (titles, names, chat) goes in as text nodes: there is no
// helper here that takes HTML.

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing from the page`);
  return e as T;
}

type Attrs = Record<string, string | number | boolean | undefined>;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | null | undefined)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') e.className = String(v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c); // strings become text nodes
  return e;
}

/** Tells screen readers (and the tests) about a state change through an aria-live region. */
export function announce(region: HTMLElement, text: string): void {
  if (region.textContent !== text) region.textContent = text;
}

export function show(e: HTMLElement, visible: boolean): void {
  e.hidden = !visible;
}

export function hashtagsOf(input: string): string[] {
  // The service accepts 1-32 letters, digits, _ or -: tidy rather than refuse what was typed.
  const tags = input.split(/[\s,]+/).map((t) => t.toLowerCase().replace(/[^\p{L}\p{N}_-]/gu, '').slice(0, 32)).filter(Boolean);
  return [...new Set(tags)].slice(0, 10);
}

export function tagList(tags: string[]): HTMLElement {
  return el('ul', { class: 'tags', 'aria-label': 'Hashtags' }, ...tags.map((t) => el('li', {}, `#${t}`)));
}

export function viewersText(n: number): string {
  return n === 1 ? '1 watching' : `${n} watching`;
}

export function sinceText(startedAt: string | number): string {
  const t = typeof startedAt === 'number' ? startedAt : Date.parse(startedAt);
  if (!Number.isFinite(t)) return '';
  const min = Math.max(0, Math.round((Date.now() - t) / 60000));
  return min < 1 ? 'just started' : min < 60 ? `live for ${min} min` : `live for ${Math.floor(min / 60)} h ${min % 60} min`;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
