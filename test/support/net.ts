import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

// A loopback URL nothing listens on (a port that was free a moment ago).
export async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}
