// `npm ci` runs this to build the native addon with node-gyp. A failed build must not stop an
// install (Lathe falls back to its js backend and says so at run time), except where
// LATHE_REQUIRE_NATIVE=1 asks for the addon, as CI does.
import { spawnSync } from 'node:child_process';

const r = spawnSync('node-gyp', ['rebuild'], { stdio: 'inherit', shell: process.platform === 'win32' });
if (r.status !== 0) {
  const why = r.error ? r.error.message : `node-gyp exited with ${r.status}`;
  console.error(`lathe: the native backend did not build (${why}); Lathe will use its js backend.`);
  console.error('lathe: to retry: install a C++ compiler, make and python3, then run `npm rebuild lathe`.');
  if (process.env.LATHE_REQUIRE_NATIVE === '1') process.exit(1);
}
