// One of two servers answering GET /payload with the same JSON, for the Koa
// overhead benchmark (bench/koa-overhead.ts): `http-servers.ts koa|node PORT`.
import http from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';

export const PAYLOAD = {
  id: 'run_01JEXAMP1E0000000000000000', projectId: 'proj_01JEXAMP1E0000000000000000', status: 'failed', branch: 'main',
  commitSha: 'a1b2c3d4e5f6', totalTests: 142, passedTests: 138, failedTests: 3, skippedTests: 0, flakyTests: 1, passRate: 97.18,
  duration: 245000, tags: ['smoke', 'login'], createdAt: '2026-03-19T10:00:00.000Z', updatedAt: '2026-03-19T10:04:05.000Z',
  commitMessage: 'Add login flow tests '.repeat(20),
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const [kind, port] = [process.argv[2], Number(process.argv[3])];
  let server: http.Server;
  if (kind === 'koa') {
    const app = new Koa();
    const router = new Router();
    router.get('/payload', (ctx) => {
      ctx.body = PAYLOAD;
    });
    app.use(router.routes());
    server = http.createServer(app.callback());
  } else {
    server = http.createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/payload') {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(PAYLOAD));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
  }
  server.listen(port, '127.0.0.1', () => console.log('ready'));
}
