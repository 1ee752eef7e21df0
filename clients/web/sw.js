// The phone app's service worker: the app's files are kept in a cache and
// served from it, so the app opens offline; each is fetched again in the
// background, so the next visit has what the proxy serves now. The browser
// API (/api/) always goes to the network: the app's data lives in
// IndexedDB, not here.
const CACHE = 'shoplist-app-v2';
const FILES = [
  '/',
  '/app.js',
  '/style.css',
  '/backend.mjs',
  '/shoplist_core.mjs',
  '/shoplist_core_wasm.mjs',
  '/shoplist_core_wasm.wasm',
  '/manifest.webmanifest',
  '/icon.svg',
  '/qrcode.js',
];

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(FILES))
      .then(() => self.skipWaiting()),
  );
});

// Caches of earlier versions of this worker go.
self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(
          names.filter((n) => n !== CACHE).map((n) => caches.delete(n)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== location.origin) return;
  if (url.pathname.startsWith('/api/')) return;
  const key = url.pathname === '/index.html' ? '/' : url.pathname;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const cached = await cache.match(key);
      const fresh = fetch(event.request)
        .then((response) => {
          if (response.ok) cache.put(key, response.clone());
          return response;
        })
        .catch(() => undefined);
      if (cached) {
        event.waitUntil(fresh);
        return cached;
      }
      return (await fresh) || Response.error();
    }),
  );
});
