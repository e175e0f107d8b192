// Every workflow type the workers serve. Workflow code is deterministic: no I/O, no clock, no
// randomness except through @temporalio/workflow.
export { smoke, roundTrip } from './smoke.js';
export { sweep, progressQuery } from './sweep.js';
export { experiment } from './experiment.js';
export { reevaluate } from './reevaluate.js';
export { trivialSweep, trivialCell } from './trivial-sweep.js';
export { classImages } from './class-images.js';
