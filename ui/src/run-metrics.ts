// A run's metric records as the page holds them, and the series its charts draw from them.
// Steps are global batch numbers (from 1); epochs are 1-based. A resumed run logs some steps or
// epochs again: the later record wins, as `lathe runs` reads them.
import type { MetricRecord } from './api.js';

type Point = [number, number];

export class RunMetrics {
  private steps = new Map<number, { epoch: number; loss: number }>();
  private epochs = new Map<number, Record<string, unknown>>();

  add(records: MetricRecord[]): void {
    for (const r of records) {
      if (r.kind === 'step' && typeof r.step === 'number' && typeof r.loss === 'number') this.steps.set(r.step, { epoch: Number(r.epoch), loss: r.loss });
      else if (r.kind === 'epoch' && typeof r.epoch === 'number') this.epochs.set(r.epoch, r);
    }
  }

  clear(): void {
    this.steps.clear();
    this.epochs.clear();
  }

  get hasSteps(): boolean {
    return this.steps.size > 0;
  }

  /** Numeric per-epoch metrics, train names only (val_x is drawn beside x). */
  metricNames(): string[] {
    const names = new Set<string>();
    for (const r of this.epochs.values()) for (const [k, v] of Object.entries(r)) if (typeof v === 'number' && !['epoch', 'seconds', 'time', 'step'].includes(k)) names.add(k.replace(/^val_/, ''));
    return [...names].sort((a, b) => (a === 'loss' ? -1 : b === 'loss' ? 1 : a.localeCompare(b)));
  }

  /** The per-epoch values of one metric, as (epoch, value) points. */
  epochSeries(name: string, scale = 1): Point[] {
    const out: Point[] = [];
    for (const [e, r] of [...this.epochs].sort((a, b) => a[0] - b[0])) if (typeof r[name] === 'number' && Number.isFinite(r[name])) out.push([e, (r[name] as number) * scale]);
    return out;
  }

  /** The last step logged in each epoch: where an epoch's figures sit on a step axis. */
  private epochEndSteps(): Map<number, number> {
    const end = new Map<number, number>();
    for (const [step, { epoch }] of this.steps) end.set(epoch, Math.max(end.get(epoch) ?? 0, step));
    return end;
  }

  /** Step losses, and the epoch losses placed at each epoch's last step. */
  lossOnSteps(): { step: Point[]; trainEpoch: Point[]; validation: Point[] } {
    const step = [...this.steps].sort((a, b) => a[0] - b[0]).map(([s, r]): Point => [s, r.loss]);
    const end = this.epochEndSteps();
    const place = (name: string) => this.epochSeries(name).flatMap(([e, v]): Point[] => (end.has(e) ? [[end.get(e)!, v]] : []));
    return { step, trainEpoch: place('loss'), validation: place('val_loss') };
  }
}
