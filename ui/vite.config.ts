// Builds the dashboard page into ui/dist, which src/dashboard serves under /ui/. Relative asset
// URLs (base './') let the same build work wherever a server mounts it.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // One script and one stylesheet: the page is small and is served from localhost.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 300,
  },
});
