import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// The dev server proxies the API to a running Runledger (RUNLEDGER_URL, default
// the dev stack on :4000); the build goes to web/dist, which the API serves at /.
const api = process.env.RUNLEDGER_URL ?? 'http://127.0.0.1:4000';

export default defineConfig({
  plugins: [preact()],
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 400 },
  server: { proxy: { '/api': api, '/artifacts': api, '/trace': api } },
});
