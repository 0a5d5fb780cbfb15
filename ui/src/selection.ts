// The runs picked for Compare, kept for the browser tab (sessionStorage) so the list and the
// compare view agree across navigation.
const KEY = 'lathe.selected';

export const selection = {
  get(): string[] {
    try {
      const v = JSON.parse(sessionStorage.getItem(KEY) ?? '[]');
      return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
    } catch {
      return [];
    }
  },
  set(ids: string[]): void {
    sessionStorage.setItem(KEY, JSON.stringify([...new Set(ids)]));
  },
  toggle(id: string, on: boolean): void {
    const ids = selection.get().filter((x) => x !== id);
    selection.set(on ? [...ids, id] : ids);
  },
};
