/** lib/log.ts's JSON lines and where they say a log came from (pure). */
import { expect, it } from 'vitest';
import { formatJsonLine, sweepPartOf } from '../lib/log.js';
import { runtimeOptions } from '../workers/telemetry.js';
import { workersSchema } from '../temporal.config.js';

it('reads the sweep, cell, source and class from the workflow ids the sweep gives its children', () => {
  expect(sweepPartOf('s1')).toEqual({ sweepId: 's1' });
  expect(sweepPartOf('s1/vanilla-p0.5-scratch-s0')).toEqual({ sweepId: 's1', cellId: 'vanilla-p0.5-scratch-s0' });
  expect(sweepPartOf('s1/cells/page-3')).toEqual({ sweepId: 's1' });
  expect(sweepPartOf('s1/generate/s0/dreambooth/page-0')).toEqual({ sweepId: 's1', seed: 0, source: 'dreambooth' });
  expect(sweepPartOf('s1/generate/s3/dreambooth/cat')).toEqual({ sweepId: 's1', seed: 3, source: 'dreambooth', className: 'cat' });
});

it("one JSON object per line: the SDK's activity attributes renamed, the task token left out", () => {
  const line = formatJsonLine('INFO', 'engine train started', { activityType: 'train', attempt: 2, workflowId: 's1/original-p0-frozen-s0', taskToken: 'secret', command: 'train-classifier' }, Date.UTC(2026, 0, 2));
  expect(line).not.toContain('\n');
  expect(JSON.parse(line)).toEqual({
    time: '2026-01-02T00:00:00.000Z',
    level: 'INFO',
    message: 'engine train started',
    sweepId: 's1',
    cellId: 'original-p0-frozen-s0',
    workflowId: 's1/original-p0-frozen-s0',
    activity: 'train',
    attempt: 2,
    command: 'train-classifier',
  });
});

it('a worker installs its own Runtime only when asked for metrics or JSON logs', () => {
  const workers = workersSchema.parse({});
  expect(runtimeOptions(workers)).toBeUndefined();
  expect(runtimeOptions({ ...workers, metricsAddress: '0.0.0.0:9464' })?.telemetryOptions?.metrics).toMatchObject({ prometheus: { bindAddress: '0.0.0.0:9464' } });
  const json = runtimeOptions({ ...workers, logFormat: 'json' });
  expect(json?.logger).toBeDefined();
  expect(json?.telemetryOptions?.metrics).toBeUndefined();
  expect(() => workersSchema.parse({ metricsAddress: '9464' })).toThrow(/host:port/);
});
