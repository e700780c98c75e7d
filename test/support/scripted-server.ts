import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// A loopback HTTP server that answers from a script, for testing clients'
// retry and buffering rules: `answer` gets each request (with its body) and
// returns the status, body and headers to send. It records what it saw.
export type Scripted = { status: number; body?: unknown; headers?: Record<string, string> };
export type Seen = { method: string; url: string; headers: IncomingMessage['headers']; body: string };

export async function scriptedServer(answer: (req: Seen, n: number) => Scripted): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body };
      seen.push(s);
      const a = answer(s, seen.length);
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(a.body === undefined ? '' : JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    }),
  };
}

// Answers from a list, the last one repeating.
export const inOrder = (answers: Scripted[]) => (_req: Seen, n: number) => answers[Math.min(n - 1, answers.length - 1)]!;
