import { expect } from 'vitest';
import { client, request } from './http.ts';

export type Tenant = { token: string; teamId: string; projectId: string; apiKey: string };

// The first admin of a fresh stack (POST /api/auth/setup), then as many
// team + project + key triples as a test needs.
export async function adminToken(base: string): Promise<string> {
  const creds = { email: 'admin@example.com', password: 'correct horse battery staple' };
  const setup = await request(base, 'POST', '/api/auth/setup', { body: creds });
  if (setup.status === 201) return setup.body.token;
  const login = await request(base, 'POST', '/api/auth/login', { body: creds });
  expect(login.status).toBe(200);
  return login.body.token;
}

export async function createTenant(base: string, name = 'tenant', scope: 'full' | 'ingest' | 'read' = 'full'): Promise<Tenant> {
  const token = await adminToken(base);
  const admin = client(base, { token });
  const team = await admin.post('/api/teams', { name: `${name} team` });
  expect(team.status).toBe(201);
  const project = await admin.post('/api/projects', { name: `${name} project`, teamId: team.body.id });
  expect(project.status).toBe(201);
  const key = await admin.post('/api/api-keys', { projectId: project.body.id, name: `${name} key`, scope });
  expect(key.status).toBe(201);
  return { token, teamId: team.body.id, projectId: project.body.id, apiKey: key.body.key };
}
