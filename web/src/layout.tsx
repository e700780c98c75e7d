import type { ComponentChildren } from 'preact';
import { Link, useLocation } from 'wouter-preact';
import type { Project } from './api';
import { useLogout, useMe } from './session';
import { useApi } from './ui/kit';

// The project the URL is about, else the one last visited (kept only as an id).
function currentProjectId(location: string): string | null {
  const m = location.match(/^\/projects\/([^/]+)/);
  if (m) {
    localStorage.setItem('rl.project', m[1]!);
    return m[1]!;
  }
  return localStorage.getItem('rl.project');
}

export function Layout({ children }: { children: ComponentChildren }) {
  const me = useMe();
  const logout = useLogout();
  const [location] = useLocation();
  const projectId = currentProjectId(location);
  const project = useApi<Project>(projectId ? `/api/projects/${projectId}` : null, undefined, { staleTime: 60_000, retry: false });
  // A remembered project that is gone (deleted, or access lost) is forgotten, so it is asked for once.
  if (project.error && !location.startsWith('/projects/') && localStorage.getItem('rl.project') === projectId) localStorage.removeItem('rl.project');
  const pid = project.data?.id;
  const nav = (href: string, label: string) => (
    <li><Link href={href} aria-current={location === href ? 'page' : undefined}>{label}</Link></li>
  );
  return (
    <div class="shell">
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <Link href="/" class="brand">Runledger</Link>
        <nav aria-label="Main">
          <ul>
            {nav('/', 'Overview')}
            {pid ? (
              <>
                {nav(`/projects/${pid}/runs`, 'Runs')}
                {nav(`/projects/${pid}/flakiness`, 'Flakiness')}
                {nav(`/projects/${pid}/trends`, 'Trends')}
                {nav(`/projects/${pid}/settings`, 'Settings')}
              </>
            ) : null}
          </ul>
        </nav>
        {pid ? <span class="crumb" title="Current project">{project.data!.name}</span> : null}
        <span class="spacer" />
        <span class="who">{me.email}</span>
        <button type="button" class="link" onClick={logout}>Sign out</button>
      </header>
      <main id="main" tabIndex={-1}>{children}</main>
    </div>
  );
}
