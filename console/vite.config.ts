/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// Served by the service under /console; every file is this origin's (no CDN), and the page has no
// inline script, so the service's Content-Security-Policy can be strict.
export default defineConfig({
  base: '/console/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, modulePreload: { polyfill: false } },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
