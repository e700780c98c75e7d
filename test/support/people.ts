import { expect } from 'vitest';
import { client, request } from './http.ts';

// Users and team memberships made through the API, as people would make them.
export const PASSWORD = 'a long and private passphrase';
export type Person = { id: string; email: string; token: string };

// An instance administrator (rootToken) creates the account; the person logs in.
export async function createUser(base: string, rootToken: string, email: string, name: string | null = null): Promise<Person> {
  const made = await request(base, 'POST', '/api/auth/users', { token: rootToken, body: { email, password: PASSWORD, ...(name ? { name } : {}) } });
  expect(made.status, made.text).toBe(201);
  const login = await request(base, 'POST', '/api/auth/login', { body: { email, password: PASSWORD } });
  expect(login.status, login.text).toBe(200);
  return { id: made.body.id, email, token: login.body.token };
}

// An invitation by a team admin, accepted by the person: returns the member id.
export async function joinTeam(base: string, inviterToken: string, teamId: string, person: Person, role: 'admin' | 'member' | 'viewer'): Promise<string> {
  const inv = await client(base, { token: inviterToken }).post('/api/team-members', { teamId, email: person.email, role });
  expect(inv.status, inv.text).toBe(201);
  const accepted = await client(base, { token: person.token }).post('/api/team-members/accept', { token: inv.body.token });
  expect(accepted.status, accepted.text).toBe(201);
  return accepted.body.id;
}

// Makes an owner of `person` (invited as admin, then promoted by an owner).
export async function joinAsOwner(base: string, ownerToken: string, teamId: string, person: Person): Promise<string> {
  const memberId = await joinTeam(base, ownerToken, teamId, person, 'admin');
  const res = await client(base, { token: ownerToken }).patch(`/api/team-members/${memberId}`, { role: 'owner' });
  expect(res.status, res.text).toBe(200);
  return memberId;
}
