import { readdir, readFile, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CLASSES, DEMO_PRESET_CLASSES, DEMO_PRESETS, demoImageRng, renderDemoImage, writeDemoWorld } from '../lib/data/demo-world.js';
import { sha256Hex } from '../lib/hash.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'synthmix-demo-world-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function tree(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await tree(root, r)));
    else out.push(r);
  }
  return out.sort();
}

async function digest(root: string): Promise<Map<string, string>> {
  const files = await tree(root);
  return new Map(await Promise.all(files.map(async (f) => [f, sha256Hex(await readFile(path.join(root, f)))] as [string, string])));
}

describe('demo world', () => {
  it('tiny preset: layout, sizes, every class of the preset in both domains, images decode as 32×32 RGB', async () => {
    const out = path.join(tmp, 'a');
    const info = await writeDemoWorld(out, { preset: 'tiny', seed: 1 });
    expect(info.reused).toBe(false);
    expect(info.sizes).toEqual(DEMO_PRESETS.tiny);
    const classes = [...DEMO_PRESET_CLASSES.tiny];
    expect(info.classes).toEqual(classes);
    expect(classes.every((c) => (DEMO_CLASSES as readonly string[]).includes(c))).toBe(true);
    expect((await readdir(path.join(out, 'prior'))).sort()).toEqual(classes);
    expect((await readdir(path.join(out, 'target/train'))).sort()).toEqual(classes);
    expect((await readdir(path.join(out, 'target/test'))).sort()).toEqual(classes);
    for (const cls of classes) {
      expect(await readdir(path.join(out, 'prior', cls))).toHaveLength(DEMO_PRESETS.tiny.prior);
      expect(await readdir(path.join(out, 'target/train', cls))).toHaveLength(DEMO_PRESETS.tiny.train);
      expect(await readdir(path.join(out, 'target/test', cls))).toHaveLength(DEMO_PRESETS.tiny.test);
    }
    for (const f of ['prior/cat/0000.png', 'target/train/ship/0011.png', 'target/test/frog/0007.png']) {
      const meta = await sharp(path.join(out, f)).metadata();
      expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 32, 32, 3]);
    }
    const world = JSON.parse(await readFile(path.join(out, 'world.json'), 'utf8')) as { complete: boolean; id: string };
    expect(world).toMatchObject({ complete: true, id: info.id });
    expect((await writeDemoWorld(out, { preset: 'tiny', seed: 1 })).reused).toBe(true);
  });

  it('same seed => identical bytes; another seed => other images; images are not blank and differ within a class', async () => {
    const a = await digest((await writeDemoWorld(path.join(tmp, 'a'), { preset: 'tiny', seed: 1 })).roots.prior);
    const b = await digest((await writeDemoWorld(path.join(tmp, 'b'), { preset: 'tiny', seed: 1 })).roots.prior);
    expect(b).toEqual(a);
    const c = await digest((await writeDemoWorld(path.join(tmp, 'c'), { preset: 'tiny', seed: 2 })).roots.prior);
    expect(c.get('cat/0000.png')).not.toBe(a.get('cat/0000.png'));
    expect(new Set(a.values()).size).toBe(a.size); // no two images alike

    // The two domains differ in style: the target domain is noisier (more distinct colours).
    const distinct = (data: Uint8Array) => new Set(Array.from({ length: data.length / 3 }, (_, i) => (data[i * 3] << 16) | (data[i * 3 + 1] << 8) | data[i * 3 + 2])).size;
    let prior = 0;
    let target = 0;
    for (const cls of DEMO_CLASSES) {
      const p = renderDemoImage(cls, 'prior', demoImageRng(1, 'prior', 'all', cls, 0));
      const t = renderDemoImage(cls, 'target', demoImageRng(1, 'target', 'train', cls, 0));
      expect(Math.max(...p.data) - Math.min(...p.data)).toBeGreaterThan(50);
      prior += distinct(p.data);
      target += distinct(t.data);
    }
    expect(target).toBeGreaterThan(prior);
  });

  it('two writers of the same world at once end with one complete, identical world', async () => {
    const out = path.join(tmp, 'race');
    const [x, y] = await Promise.all([writeDemoWorld(out, { preset: 'tiny', seed: 1 }), writeDemoWorld(out, { preset: 'tiny', seed: 1 })]);
    expect(x.id).toBe(y.id);
    const files = await tree(out);
    expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(await digest(path.join(out, 'prior'))).toEqual(await digest(path.join(tmp, 'a', 'prior')));
  });

  it('a different world in the same directory replaces the old one; a foreign directory is refused', async () => {
    const out = path.join(tmp, 'switch');
    await writeDemoWorld(out, { preset: 'tiny', seed: 1 });
    const other = await writeDemoWorld(out, { preset: 'tiny', seed: 1, imageSize: 16 });
    expect(other.reused).toBe(false);
    expect((await sharp(path.join(out, 'prior/cat/0000.png')).metadata()).width).toBe(16);

    const foreign = path.join(tmp, 'foreign');
    await mkdir(path.join(foreign, 'target'), { recursive: true });
    await writeFile(path.join(foreign, 'target', 'mine.txt'), 'do not delete');
    await expect(writeDemoWorld(foreign, { preset: 'tiny', seed: 1 })).rejects.toThrow(/refusing/);
    await expect(writeDemoWorld(foreign, { preset: 'huge' as 'tiny', seed: 1 })).rejects.toThrow(/preset/);
  });
});
