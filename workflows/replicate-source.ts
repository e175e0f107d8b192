/**
 * One source of synthetic images on the Replicate backend (`generator.backend: "replicate"`), per
 * class in parallel: vanilla generates from the configured model / version; DreamBooth first trains
 * a new version of `generator.replicate.destination` on the class's k instance images, then
 * generates from it. Textual inversion has no standard trainer on Replicate: the sweep config
 * refuses it (`sources`) before anything runs.
 */
import type { ManifestRef } from '../lib/data/manifest.js';
import type { Source } from '../lib/sweep/cells.js';
import type { SweepConfig } from '../lib/sweep/config.js';
import type { ReplicateTarget } from '../activities/replicate.js';
import type { Queues } from '../lib/temporal/queues.js';
import { proxyCpuActivities, proxyReplicateActivities } from './proxies.js';
import { fanOutBounded } from './fan-out.js';

/** Classes whose Replicate trainings / predictions run at once. */
const REPLICATE_CLASSES_AT_ONCE = 64;

export interface ReplicateSourceInput {
  config: SweepConfig;
  queues: Queues;
  heartbeatTimeout?: string;
  source: Source;
  classes: string[];
  /** The curated originals (DreamBooth picks its instances from them). */
  original: ManifestRef;
  seed: number;
}

export async function generateSourceWithReplicate(input: ReplicateSourceInput): Promise<{ manifests: ManifestRef[]; parts: Array<{ wallMs: number; computed: boolean }> }> {
  const { config, source, seed } = input;
  const g = config.generator;
  // The config schema requires the block with this backend, and refuses source "textual" with it.
  const replicate = g.replicate as NonNullable<SweepConfig['generator']['replicate']>;
  const cpu = proxyCpuActivities(input.queues);
  const remote = proxyReplicateActivities(input.queues, input.heartbeatTimeout);
  const db = config.finetune.dreambooth;

  // Bounded: Temporal refuses a workflow more than 2,000 pending activities, and Replicate rate-limits.
  const results = new Map<string, { manifest: ManifestRef; parts: Array<{ wallMs: number; computed: boolean }> }>();
  await fanOutBounded(
    input.classes.map((id) => ({ id })),
    REPLICATE_CLASSES_AT_ONCE,
    { outcomes: results, running: new Set() },
    async ({ id: className }) => {
      const parts: Array<{ wallMs: number; computed: boolean }> = [];
      let target: ReplicateTarget = { model: replicate.model, ...(replicate.version ? { version: replicate.version } : {}) };
      if (source === 'dreambooth') {
        const instances = await cpu.pickInstances({ manifest: input.original, className, k: config.finetune.instancesPerClass, seed });
        const trained = await remote.replicateFinetune({
          className,
          instances,
          steps: db.steps,
          lr: db.lr,
          seed,
          trainTextEncoder: db.trainTextEncoder,
          ...(db.numClassImages > 0 && db.priorWeight > 0 ? { priorPreservation: { weight: db.priorWeight, numClassImages: db.numClassImages } } : {}),
          replicate,
        });
        target = { model: trained.model, version: trained.version, token: trained.token };
        parts.push(trained);
      }
      const images = await remote.replicateGenerate({
        source,
        className,
        target,
        templates: g.classPrompts[className] ?? g.templates,
        negativePrompt: g.negativePrompt,
        count: config.dataset.perClass,
        seed,
        steps: g.steps,
        guidance: g.guidance,
        imageSize: config.dataset.imageSize,
        resize: config.dataset.resize,
        replicate,
      });
      parts.push(images);
      return { manifest: images.manifest, parts };
    },
    // A few events per class in the sweep's history: under its 51,200-event limit up to several thousand classes.
    { mayContinueAsNew: false },
  );
  const perClass = input.classes.map((className) => results.get(className) as { manifest: ManifestRef; parts: Array<{ wallMs: number; computed: boolean }> });
  return { manifests: perClass.map((c) => c.manifest), parts: perClass.flatMap((c) => c.parts) };
}
