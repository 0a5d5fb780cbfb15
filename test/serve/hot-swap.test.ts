// Issue 7: a new version folder is picked up (poll) under load: it loads and warms up beside the
// serving version, takes the traffic once ready, the old one drains and ends, and no request fails.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as lt from '../../src/index.js';
import { startServer } from '../../src/serve/http/server.js';
import { buildRepository, pixels, type Fixture } from './repository-fixture.js';

let fx: Fixture;
before(async () => {
  fx = await buildRepository();
  lt.save(fx.v1, path.join(fx.root, 'swap', '1'));
  fs.writeFileSync(path.join(fx.root, 'swap', 'config.json'), JSON.stringify({ batching: { maxBatchSize: 8, maxQueueDelayMicroseconds: 2000 } }));
});
after(() => fs.rmSync(fx.root, { recursive: true, force: true }));

for (const batched of [true, false]) {
  test(`hot swap under load${batched ? ', batched' : ''}: every request succeeds, the new version takes over, the old one ends`, async () => {
    const model = batched ? 'swap' : 'swap-direct';
    if (!batched) lt.save(fx.v1, path.join(fx.root, model, '1'));
    const server = await startServer({ repository: fx.root, port: 0 });
    try {
      const row = (pixels(1, 6).toArray() as number[][])[0];
      const body = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 784], datatype: 'FP32', data: row }] });
      const seen: { status: number; version?: string }[] = [];
      let stop = false;
      const worker = async () => {
        while (!stop) {
          const r = await fetch(`${server.url}/v2/models/${model}/infer`, { method: 'POST', body });
          const j = (await r.json()) as { model_version?: string };
          seen.push({ status: r.status, version: j.model_version });
        }
      };
      // Wait for answers, not for time: fixed sleeps saw too little traffic on a loaded machine.
      const untilSeen = async (n: number) => {
        for (const t0 = performance.now(); seen.length < n && performance.now() - t0 < 20_000;) await new Promise((r) => setTimeout(r, 5));
      };
      const workers = Array.from({ length: 16 }, worker);
      await untilSeen(30);
      lt.save(fx.v2, path.join(fx.root, model, '2'));
      await server.repository.poll();
      await untilSeen(seen.length + 30);
      stop = true;
      await Promise.all(workers);
      assert.ok(seen.length > 50, `enough traffic: ${seen.length}`);
      assert.deepEqual([...new Set(seen.map((s) => s.status))], [200], 'no request failed');
      const versions = seen.map((s) => s.version);
      assert.ok(versions.includes('1') && versions.includes('2'), 'both versions served');
      assert.equal(versions[versions.length - 1], '2', 'the new version took over');
      const m = server.repository.model(model)!;
      assert.equal(m.versions.get(1)!.state, 'END');
      assert.equal(m.versions.get(2)!.state, 'AVAILABLE');
      const status = (await (await fetch(`${server.url}/v1/models/${model}`)).json()) as { model_version_status: { version: string; state: string }[] };
      assert.deepEqual(status.model_version_status.map((v) => [v.version, v.state]), [['2', 'AVAILABLE'], ['1', 'END']]);
    } finally {
      await server.close();
    }
  });
}
