/**
 * A realistic, fully synthetic `ReportInput` (numbers shaped like the paper's, sample images drawn by
 * the demo world): for tests of the report step and for previewing the report without a sweep.
 * Deterministic in its options.
 */
import type { EngineEnvironment } from '../engine/results.js';
import { DEMO_CLASSES, demoImageRng, renderDemoImage } from '../data/demo-world.js';
import { sha256Hex } from '../hash.js';
import { encodePngRgb } from '../images/png.js';
import { createRng } from '../random.js';
import { contentKey } from '../store/common.js';
import { enumerateCells, type InitMode } from '../sweep/cells.js';
import { resolveSweepConfig } from '../sweep/config.js';
import type { CellOutcome, FidRow, ReportInput } from './types.js';

/** A 2-core AVX2 machine, as the engine reports it (runtime.environment). */
const EXAMPLE_ENVIRONMENT: EngineEnvironment = {
  cpu: 'AMD EPYC',
  isa: ['sse4_2', 'avx', 'avx2', 'fma'],
  torchCpuCapability: 'AVX2',
  torch: '2.13.0+cpu',
  blas: 'mkl',
  python: '3.11.2',
  threads: 1,
  gpu: null,
  cuda: null,
};

export interface ExampleOptions {
  seeds?: number[];
  /** Cell ids to mark failed, with their reasons. */
  failures?: Record<string, string>;
  /** Images per (class, column) cell of the sample grid. */
  samplesPerCell?: number;
  /** Add two nightly re-evaluations. */
  history?: boolean;
  sweepId?: string;
}

export interface ExampleReport {
  input: ReportInput;
  /** Store key → PNG bytes of every sample image the input names. */
  images: Map<string, Buffer>;
}

// Paper-like accuracy at p = 0 and at p = 1 per init mode (Figs 3–5).
const MODE_ACC: Record<InitMode, { p0: number; p1: number; originalOnlyDrop: number }> = {
  scratch: { p0: 0.62, p1: 0.31, originalOnlyDrop: 0.2 },
  finetune: { p0: 0.91, p1: 0.72, originalOnlyDrop: 0.06 },
  frozen: { p0: 0.84, p1: 0.66, originalOnlyDrop: 0.05 },
};
const SOURCE_SHIFT: Record<string, number> = { vanilla: 0.02, dreambooth: 0, textual: -0.03 };
const CLASS_SHIFT = [0.06, 0.08, -0.07, -0.12, 0.0, -0.08, 0.04, 0.05, 0.07, 0.03];
// Paper Table 1.
const PAPER_FID: Record<string, number[]> = {
  vanilla: [87.2, 54.3, 61, 95.5, 93.5, 163.4, 84.2, 64, 44.9, 99.2, 39.9],
  dreambooth: [26.4, 81.7, 67.3, 92.6, 99.3, 93.7, 80.6, 65.3, 76.6, 77.1, 42.7],
  textual: [31.2, 89.1, 78.3, 135.5, 84.8, 93, 67.1, 81.2, 75.4, 112.8, 48.3],
};

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}

/** Round to a multiple of 1/n (an accuracy over n test images). */
function overN(v: number, n: number): number {
  return Math.round(clamp01(v) * n) / n;
}

export async function exampleReport(options: ExampleOptions = {}): Promise<ExampleReport> {
  const seeds = options.seeds ?? [0, 1];
  const config = resolveSweepConfig('demo', { name: 'example', seeds });
  const classes = [...DEMO_CLASSES];
  const testPerClass = config.dataset.testPerClass;
  const failures = options.failures ?? {};
  const sweepId = options.sweepId ?? 'example-sweep';

  const cells: CellOutcome[] = enumerateCells(config).map((cell) => {
    const rng = createRng('example-report', cell.id);
    if (failures[cell.id]) return { cell, status: 'failed', error: failures[cell.id], wallMs: 4200 + rng.int(3000), computed: true };
    const m = MODE_ACC[cell.mode];
    let base = m.p0 + (m.p1 - m.p0) * cell.p ** 1.3;
    if (cell.arm === 'only-original') base = cell.p >= 1 ? 0.1 : m.p0 - m.originalOnlyDrop * cell.p ** 1.5 - 0.015;
    else base += (SOURCE_SHIFT[cell.source] ?? 0) * cell.p + 0.01 * (cell.p > 0 && cell.p < 0.5 ? 1 : 0);
    const perClass: Record<string, number> = {};
    classes.forEach((name, i) => {
      const spread = cell.arm === 'only-original' && cell.p >= 1 ? 0 : CLASS_SHIFT[i] * (1 + cell.p);
      perClass[name] = overN(base + spread + rng.normal() * 0.025, testPerClass);
    });
    const overallAccuracy = classes.reduce((s, c) => s + perClass[c], 0) / classes.length;
    const epochs = config.train.epochs[cell.mode];
    const total = cell.arm === 'only-original' ? Math.round(config.dataset.perClass * (1 - cell.p)) : config.dataset.perClass;
    const valPerClass = Math.round(total * config.mix.valFraction);
    return {
      cell,
      status: 'done',
      evaluation: { overallAccuracy, perClass, evaluationKey: `cells/${cell.id}/evaluation.json` },
      train: {
        bestValAcc: overN(base + 0.04 + rng.normal() * 0.01, Math.max(1, valPerClass * classes.length)),
        bestEpoch: 1 + rng.int(epochs),
        epochs,
        weightsKey: `cells/${cell.id}/weights.safetensors`,
        trainImages: (total - valPerClass) * classes.length,
        valImages: valPerClass * classes.length,
        environment: EXAMPLE_ENVIRONMENT,
      },
      wallMs: 20000 + rng.int(40000),
      computed: true,
    };
  });

  const fid: FidRow[] = [];
  for (const source of config.sources) {
    [...classes, 'overall'].forEach((className, i) => {
      const rng = createRng('example-fid', source, className);
      const value = PAPER_FID[source][i];
      const n = className === 'overall' ? config.dataset.perClass * classes.length : config.dataset.perClass;
      // As the engine: a subset size that does not fit the smaller set is capped to half of it.
      const capped = config.fid.kidSubsetSize >= n;
      const kidSubsetSize = capped ? Math.max(2, Math.floor(n / 2)) : config.fid.kidSubsetSize;
      const kidMean = Math.round(value * 0.9 + rng.normal() * 3) / 1000;
      const kidStd = Math.round(2 + rng.nextFloat() * 4) / 1000;
      // As the engine's intervals over images: KID's from its subsets (fid/kid.py); the FID's basic
      // bootstrap, whose point value is biased upward by more than it varies at 60 images a class.
      const mh = kidSubsetSize / n;
      const kidHalf = 1.96 * kidStd * Math.sqrt(mh / (1 - mh) + 1 / config.fid.kidSubsets);
      const bias = value * (className === 'overall' ? 0.02 : 0.3);
      const fidHalf = (value * 1.5) / Math.sqrt(n);
      fid.push({
        source,
        className,
        fid: value,
        kidMean,
        kidStd,
        kidInterval: { low: kidMean - kidHalf, high: kidMean + kidHalf, level: 0.95 },
        fidInterval: { low: Math.max(0, value - bias - fidHalf), high: value - bias + fidHalf, bias, level: 0.95, resamples: config.fid.bootstrapResamples },
        kidSubsetSize,
        kidSubsetCapped: capped,
        n1: n,
        n2: n,
        epsilonUsed: className === 'cat' && source === 'textual' ? 1e-6 : 0,
        extractorId: config.fid.extractor,
        weightsSha256: sha256Hex(`example-extractor:${config.fid.extractor}`),
      });
    });
  }

  // Sample grid: originals from the demo world's target domain; "synthetic" ones from its prior domain.
  const perCell = options.samplesPerCell ?? 3;
  const columns = ['original', ...config.sources];
  const images = new Map<string, Buffer>();
  const grid: Record<string, Record<string, string[]>> = {};
  for (const [j, column] of columns.entries()) {
    grid[column] = {};
    for (const cls of DEMO_CLASSES) {
      const keys: string[] = [];
      for (let k = 0; k < perCell; k++) {
        const domain = column === 'original' ? 'target' : 'prior';
        const png = await encodePngRgb(renderDemoImage(cls, domain, demoImageRng(7 + j, domain, 'all', cls, k), config.dataset.imageSize));
        const key = contentKey('images', sha256Hex(png), '.png');
        images.set(key, png);
        keys.push(key);
      }
      grid[column][cls] = keys;
    }
  }

  const history: ReportInput['history'] = options.history === false
    ? undefined
    : ['2025-03-02T03:00:00.000Z', '2025-03-03T03:00:00.000Z'].map((at, h) => ({
        at,
        testManifestKey: `curate/test-${h === 0 ? 'a' : 'b'}/manifest-test.json`,
        cells: cells
          .filter((c) => c.status === 'done')
          .map((c) => ({ cellId: c.cell.id, overallAccuracy: overN((c.evaluation?.overallAccuracy ?? 0) - 0.01 * h + createRng('hist', h, c.cell.id).normal() * 0.005, testPerClass * classes.length) })),
      }));

  const input: ReportInput = {
    sweepId,
    config,
    classes,
    cells,
    fid,
    samples: { classes, columns, images: grid },
    stages: [
      { stage: 'curate', wallMs: 41_250, activityMs: 40_900, activities: 1, computed: 1 },
      { stage: 'finetune', wallMs: 522_000, activityMs: 1_010_500, activities: 20, computed: 20 },
      { stage: 'generate', wallMs: 640_300, activityMs: 1_204_800, activities: 3, computed: 3 },
      { stage: 'fid', wallMs: 95_700, activityMs: 95_100, activities: 3, computed: 3 },
      { stage: 'mix', wallMs: 60_400, activityMs: 118_000, activities: cells.length, computed: cells.length },
      { stage: 'train', wallMs: 2_950_000, activityMs: 5_620_000, activities: cells.length, computed: cells.length - 4 },
      { stage: 'evaluate', wallMs: 310_000, activityMs: 590_000, activities: cells.length, computed: cells.length - 4 },
    ],
    codeVersion: 'synthmix 0.1.0 (example)',
    backends: { generator: `${config.generator.backend}`, classifier: 'resnet18 (torch 2.13.0, cpu)', fid: config.fid.extractor, store: 'local' },
    startedAt: '2025-03-01T09:00:00.000Z',
    finishedAt: '2025-03-01T10:12:34.000Z',
    ...(history ? { history } : {}),
  };
  return { input, images };
}
