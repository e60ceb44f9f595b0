// REST calls of "After the show" (docs/PROTOCOL.md): shorts, comments, profiles.
import { ApiError, json } from './api';

export interface Short {
  id: string; owner: { id: string; name: string }; title: string; hashtags: string[]; durationS: number;
  createdAt: string; views: number; comments: number; videoUrl: string; posterUrl: string;
  location: { lat: number; lng: number } | null;
}
export interface Comment { id: string; from: { id: string; name: string }; text: string; at: string }
export interface Page<T> { items: T[]; next: string | null }
export interface Profile {
  id: string; name: string; bio: string; avatarUrl: string | null; tipUrl: string | null;
  live: import('./types').Busk | null; shorts: number;
}
export type CommentEvent = { type: 'comment'; comment: Comment } | { type: 'deleted'; id: string };

export interface FeedQuery { tag?: string; by?: string; before?: string | null; limit?: number }

export function feed(q: FeedQuery = {}): Promise<Page<Short>> {
  const p = new URLSearchParams();
  if (q.tag) p.set('tag', q.tag);
  if (q.by) p.set('by', q.by);
  if (q.before) p.set('before', q.before);
  if (q.limit) p.set('limit', String(q.limit));
  const qs = p.toString();
  return json(`/api/shorts${qs ? `?${qs}` : ''}`);
}

export const getShort = (id: string) => json<Short>(`/api/shorts/${encodeURIComponent(id)}`);
export const countView = (id: string) => json<{ views: number }>(`/api/shorts/${encodeURIComponent(id)}/views`, { method: 'POST' });
export const deleteShort = (id: string, token: string) => fetch(`/api/shorts/${encodeURIComponent(id)}`, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });

export function comments(shortId: string, before: string | null): Promise<Page<Comment>> {
  return json(`/api/shorts/${encodeURIComponent(shortId)}/comments${before ? `?before=${encodeURIComponent(before)}` : ''}`);
}

export function addComment(shortId: string, text: string, token: string): Promise<Comment> {
  return json(`/api/shorts/${encodeURIComponent(shortId)}/comments`, { method: 'POST', body: JSON.stringify({ text }) }, token);
}

export async function deleteComment(id: string, token: string): Promise<void> {
  const res = await fetch(`/api/comments/${encodeURIComponent(id)}`, { method: 'DELETE', headers: { Authorization: `Bearer ${token}` } });
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
}

export const getProfile = (id: string) => json<Profile>(`/api/users/${encodeURIComponent(id)}`);

export function saveProfile(p: { name?: string; bio?: string; tipUrl?: string | null }, token: string): Promise<Profile> {
  return json('/api/me/profile', { method: 'PUT', body: JSON.stringify(p) }, token);
}

export async function uploadAvatar(file: Blob, token: string): Promise<Profile> {
  const res = await fetch('/api/me/avatar', { method: 'PUT', body: file, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/octet-stream' } });
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  return (await res.json()) as Profile;
}

/** The service's `{code, message}` as a sentence. */
export async function errorMessage(res: Response): Promise<string> {
  try { return ((await res.json()) as { message?: string }).message ?? `${res.status}`; } catch { return `${res.status} ${res.statusText}`; }
}
