import { createLocalStore } from './lib/store/index.js';
import { mapLimit } from './lib/data/pool.js';
import { createRng } from './lib/random.js';
const bufs = Array.from({ length: 400 }, (_, i) => { const r = createRng(i); return Buffer.from(Array.from({ length: 3000 }, () => r.int(256))); });
for (const c of [4, 16, 32]) {
  const store = createLocalStore(`/tmp/sx/pstore${c}`); const t = performance.now();
  await mapLimit(bufs, c, async (b) => { await store.putContentAddressed('images', b, '.png'); }); console.log(c, 'put img/s', 400 / ((performance.now() - t) / 1000));
}
