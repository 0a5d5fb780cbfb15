// Bundles the page: node examples/webgpu-browser/build.mjs [OUT_DIR] (default dist-webgpu-browser/,
// gitignored). esbuild (a devDependency, through Vite) compiles the TypeScript; Node's built-ins
// become ./node-stub.cjs and the `webgpu` package (dawn.node) is left out: a page has navigator.gpu.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));

export async function buildPage(outDir = path.join(here, '../../dist-webgpu-browser')) {
  fs.mkdirSync(outDir, { recursive: true });
  const stub = path.join(here, 'node-stub.cjs');
  await build({
    entryPoints: [path.join(here, 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    outfile: path.join(outDir, 'main.js'),
    external: ['webgpu'],
    define: { 'process.env': '{}' },
    logLevel: 'warning',
    plugins: [{
      name: 'node-builtins',
      setup(b) {
        const builtin = new RegExp(`^(node:.*|${builtinModules.map((m) => m.replace(/[/]/g, '\\/')).join('|')})$`);
        b.onResolve({ filter: builtin }, () => ({ path: stub }));
      },
    }],
  });
  fs.copyFileSync(path.join(here, 'index.html'), path.join(outDir, 'index.html'));
  return outDir;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(`built ${await buildPage(process.argv[2])}`);
