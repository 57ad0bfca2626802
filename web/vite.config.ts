import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The web UI of `chorus client`: built to web/dist, which the local agent serves. There is no
// dev server at run time; the agent's CSP allows only the page's own scripts and styles.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // The polyfill would be an inline script, which the CSP refuses; modern browsers need none.
    modulePreload: { polyfill: false },
  },
});
