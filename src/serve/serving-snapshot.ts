// What the dashboard's serving view shows for `lathe serve --ui`: each model's versions with
// their states and labels, from the repository, and its recent request rate, latency and batch
// size, from the server's own counters (recent-stats.ts). Nothing here is estimated.
import type { ServingSnapshot } from '../dashboard/handler.js';
import type { RecentStats } from './recent-stats.js';
import type { ModelRepository } from './repository.js';

export function servingSnapshot(repo: ModelRepository, recent: RecentStats): ServingSnapshot {
  const models = [...repo.models.values()].sort((a, b) => a.name.localeCompare(b.name));
  return {
    models: models.map((m) => {
      const labelsOf = new Map<number, string[]>();
      for (const [label, v] of m.config.labels) labelsOf.set(v, [...(labelsOf.get(v) ?? []), label]);
      const versions = [...m.versions.values()].sort((a, b) => b.version - a.version);
      return {
        name: m.name,
        versions: versions.map((v) => ({
          version: String(v.version),
          state: v.state,
          ready: v.state === 'AVAILABLE',
          ...(labelsOf.has(v.version) ? { labels: labelsOf.get(v.version)!.sort() } : {}),
          ...(v.runtime ? { runtime: v.runtime } : {}),
          ...(v.error ? { error: v.error } : {}),
        })),
        ...recent.figures(m.name),
      };
    }),
  };
}
