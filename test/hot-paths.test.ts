// The code every op call runs (ops, autograd, backends, tensor) builds no object as a spread
// followed by more properties or another spread ({ ...plan, shape }): V8 in Node 20 takes that
// literal's slow path, about 0.5 us a property (an int8 Dense op spent 2 us of its 11 there). The test reads
// the TypeScript sources, so it runs from dist/test beside them.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SPREAD_THEN_PROPERTY = /\{\s*\.\.\.[^{}]*?,\s*(\.\.\.|[A-Za-z_$][\w$]*\s*[:,}])/;

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

test('the pattern finds a spread followed by a property, and not a spread alone', () => {
  assert.ok(SPREAD_THEN_PROPERTY.test('return { ...plan, shape };'));
  assert.ok(SPREAD_THEN_PROPERTY.test('apply(op, [x], { ...attrs, src: g })'));
  assert.ok(SPREAD_THEN_PROPERTY.test('const o = { ...a, ...b };'));
  assert.ok(!SPREAD_THEN_PROPERTY.test('const o = { ...plan };'));
  assert.ok(!SPREAD_THEN_PROPERTY.test('Object.assign({}, plan, { shape })'));
});

test('ops, autograd, backends and tensor build no object as a spread then properties', () => {
  const found: string[] = [];
  for (const dir of ['ops', 'autograd', 'backends', 'tensor']) {
    for (const file of sources(path.join(root, 'src', dir))) {
      fs.readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        if (!line.trim().startsWith('//') && SPREAD_THEN_PROPERTY.test(line)) found.push(`${path.relative(root, file)}:${i + 1}: ${line.trim()}`);
      });
    }
  }
  assert.deepEqual(found, [], 'write these as Object.assign({}, x, { ... }) or list the properties');
});
