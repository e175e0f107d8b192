/**
 * cpu queue: the dataset side of the sweep around `curate` and `mix` — the embedded demo world,
 * the k instance images each fine-tune learns from, and the sample grid of the report.
 */
import os from 'node:os';
import path from 'node:path';
import { putValue, readList, type StoredList, type StoredValue } from '../lib/store/values.js';
import type { ActivityDeps } from '../lib/deps.js';
import { makeManifest, readManifest, writeManifest, itemsByClass, type ManifestRef } from '../lib/data/manifest.js';
import { writeDemoWorld, type DemoPreset } from '../lib/data/demo-world.js';
import type { DatasetSource } from '../lib/data/source.js';
import type { CurateDatasetInput, CurateResult, SweepImageSource } from '../lib/steps/curate.js';
import { createRng, deriveSeed } from '../lib/random.js';
import { hashJson } from '../lib/hash.js';
import type { SampleGrid } from '../lib/report/types.js';
import { BadInputError } from '../lib/errors.js';
import { createCurateActivities } from './curate.js';

export type { CurateDatasetInput, SweepImageSource } from '../lib/steps/curate.js';

export interface PickInstancesInput {
  manifest: ManifestRef;
  className: string;
  k: number;
  seed: number;
}

export interface SampleGridInput {
  original: ManifestRef;
  /** source name → per-class manifests (stored pages in a sweep). */
  synthetic: Record<string, ManifestRef[] | StoredList>;
  perCell: number;
  seed: number;
}

export function createDatasetActivities({ store, config }: ActivityDeps) {
  const { curate } = createCurateActivities({ store });

  /** Where this machine keeps the demo world it draws (deterministic, so any worker can redraw it). */
  const demoRoot = (preset: DemoPreset, seed: number) =>
    path.join(config.stateDir === '' ? os.tmpdir() : config.stateDir, 'demo-world', `${preset}-${seed}`);

  async function resolveSource(source: SweepImageSource, split: 'train' | 'test', preset: DemoPreset, seed: number): Promise<DatasetSource> {
    if (source.kind !== 'demo') return source;
    const world = await writeDemoWorld(demoRoot(preset, seed), { preset, seed });
    if (source.domain === 'prior') return { kind: 'local', path: world.roots.prior };
    return { kind: 'local', path: split === 'train' ? world.roots.train : world.roots.test };
  }

  return {
    /** `curate`, with the demo world drawn first when the config asks for it. */
    async curateDataset(input: CurateDatasetInput): Promise<CurateResult> {
      const { demoPreset, source, testSource, ...rest } = input;
      const resolvedSource = await resolveSource(source, 'train', demoPreset, input.seed);
      // The demo world's target domain comes with its own test split.
      const resolvedTest =
        testSource !== undefined
          ? await resolveSource(testSource, 'test', demoPreset, input.seed)
          : source.kind === 'demo' && source.domain === 'target'
            ? await resolveSource(source, 'test', demoPreset, input.seed)
            : undefined;
      return curate({ ...rest, source: resolvedSource, ...(resolvedTest ? { testSource: resolvedTest } : {}) });
    },

    /** The k instance images of one class that DreamBooth / textual inversion learn from. */
    async pickInstances(input: PickInstancesInput): Promise<ManifestRef> {
      const manifest = await readManifest(store, input.manifest);
      const items = [...(itemsByClass(manifest).get(input.className) ?? [])];
      if (items.length < input.k) {
        throw new BadInputError(`class ${input.className} has ${items.length} curated images, fine-tuning needs k=${input.k}`).toFailure();
      }
      createRng(deriveSeed(input.seed, 'instances', input.className)).shuffle(items);
      const picked = makeManifest('train', manifest.imageSize, [input.className], items.slice(0, input.k));
      return writeManifest(store, `steps/instances/${hashJson(input)}/manifest.json`, picked);
    },

    /** One manifest of several (e.g. the per-class synthetic manifests of a source), for `mix`. */
    async mergeManifests(input: { refs: ManifestRef[] | StoredList; key: string }): Promise<ManifestRef> {
      const manifests = [];
      for (const ref of await readList(store, input.refs)) manifests.push(await readManifest(store, ref));
      const classes = manifests.flatMap((m) => m.classes);
      const merged = makeManifest('synthetic', manifests[0]?.imageSize ?? 0, classes, manifests.flatMap((m) => m.items));
      return writeManifest(store, `steps/merged/${hashJson(input)}/manifest.json`, merged);
    },

    /**
     * Store keys of a few images per class and column (original + each source), for Fig 7; the grid
     * itself is stored and returned by reference (with thousands of classes it passes a payload's 2 MB).
     */
    async sampleGrid(input: SampleGridInput): Promise<StoredValue> {
      return putValue(store, 'values/sample-grids', await sampleGrid(input));
    },
  };

  async function sampleGrid(input: SampleGridInput): Promise<SampleGrid> {
    const original = await readManifest(store, input.original);
    const columns = ['original', ...Object.keys(input.synthetic)];
    const images: SampleGrid['images'] = {};
    const pick = (column: string, byClass: Map<string, readonly { key: string }[]>) => {
      images[column] = {};
      for (const className of original.classes) {
        const items = [...(byClass.get(className) ?? [])];
        createRng(deriveSeed(input.seed, 'samples', column, className)).shuffle(items);
        images[column][className] = items.slice(0, input.perCell).map((item) => item.key);
      }
    };
    pick('original', itemsByClass(original));
    for (const [source, refs] of Object.entries(input.synthetic)) {
      const byClass = new Map<string, { key: string }[]>();
      for (const ref of await readList(store, refs)) for (const [name, items] of itemsByClass(await readManifest(store, ref))) byClass.set(name, [...(byClass.get(name) ?? []), ...items]);
      pick(source, byClass);
    }
    return { classes: [...original.classes], columns, images };
  }
}
