import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { useQueryClient } from '@tanstack/react-query';
import type { Me, Project, Role } from './api';
import { post } from './api';
import { useApi } from './ui/kit';

export const MeContext = createContext<Me | null>(null);
export const useMe = () => useContext(MeContext)!;

const RANK: Record<Role, number> = { viewer: 1, member: 2, admin: 3, owner: 4 };
export function roleIn(me: Me, teamId: string | undefined): Role | null {
  return me.teams.find((t) => t.id === teamId)?.role ?? null;
}
export const atLeast = (role: Role | null, want: Role) => role !== null && RANK[role] >= RANK[want];

// The project a page is about, and what the signed-in user may do in it.
export function useProject(projectId: string | undefined) {
  const me = useMe();
  const q = useApi<Project>(projectId ? `/api/projects/${projectId}` : null, undefined, { staleTime: 60_000 });
  const role = roleIn(me, q.data?.teamId);
  return { q, project: q.data, role, canWrite: atLeast(role, 'member'), canManage: atLeast(role, 'admin') };
}

export function useLogout() {
  const qc = useQueryClient();
  return async () => {
    try {
      await post('/api/auth/logout');
    } finally {
      qc.clear();
      location.assign('/login');
    }
  };
}
