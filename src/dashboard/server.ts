// The standalone dashboard server of `lathe ui`: the dashboard handler on plain node:http,
// with / redirected to the page and every other path a JSON 404.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDashboard, type DashboardOptions } from './handler.js';

export interface DashboardServer {
  url: string;
  close(): Promise<void>;
}

export async function startDashboardServer(options: DashboardOptions & { host: string; port: number }): Promise<DashboardServer> {
  const dashboard = createDashboard(options);
  const server = http.createServer((req, res) => {
    if (dashboard.handle(req, res)) return;
    if ((req.url === '/' || req.url === '') && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(302, { location: '/ui/' });
      res.end();
      return;
    }
    const body = JSON.stringify({ error: 'not found: the dashboard is at /ui/ and its API under /api/' });
    res.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}/ui/`,
    close: () =>
      new Promise<void>((resolve) => {
        dashboard.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
