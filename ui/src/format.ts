// How numbers read on the page: losses to 4 significant digits, accuracies as percentages.

/** Accuracy-like metrics are fractions in [0, 1] and read as percentages. */
export function isPercentMetric(name: string): boolean {
  return /(^|_)(accuracy|acc|precision|recall|f1|auc|top_?\d*_?accuracy)$/.test(name);
}

export function fmtMetric(name: string, v: unknown): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return v === null || v === undefined ? '–' : String(v);
  if (isPercentMetric(name)) return `${(v * 100).toFixed(2)}%`;
  if (/seconds$/.test(name)) return `${v.toFixed(2)} s`;
  if (/_mb$/.test(name)) return `${v.toFixed(0)} MB`;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(4);
}

export function fmtValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(+v.toPrecision(6));
  if (v === null || v === undefined) return '–';
  return String(v);
}

export function fmtTime(iso: string | null): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export function fmtDuration(startIso: string | null, endIso: string | null): string {
  if (!startIso) return '–';
  const end = endIso ? Date.parse(endIso) : Date.now();
  const s = Math.max(0, (end - Date.parse(startIso)) / 1000);
  if (!Number.isFinite(s)) return '–';
  if (s < 90) return `${s.toFixed(0)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

/** A label for metric keys: val_accuracy → validation accuracy. */
export function metricLabel(name: string): string {
  return name.replace(/^val_/, 'validation ').replace(/^test_/, 'test ').replace(/_/g, ' ');
}
