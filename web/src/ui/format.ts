export function duration(ms: number | null | undefined): string {
  if (ms == null) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}
export const pct = (v: number | null | undefined, digits = 1) => (v == null ? '–' : `${v.toFixed(digits)} %`);
export function when(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}
export function ago(iso: string | null | undefined): string {
  if (!iso) return '–';
  const s = (Date.now() - Date.parse(iso)) / 1000;
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}
export const shortSha = (s: string | null | undefined) => (s ? s.slice(0, 8) : '–');
export const LIVE_STATUSES = new Set(['running', 'queued', 'pending', 'in_progress']);
// What names a run: its title, else its commit message's first line, else its CI build, else the end of its id.
export function runName(r: { id: string; runTitle?: string | null; commitMessage?: string | null; ciBuildId?: string | null }): string {
  return r.runTitle || r.commitMessage?.split('\n')[0] || r.ciBuildId || r.id.slice(-8);
}
