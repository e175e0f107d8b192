// Every workflow type the workers serve. Workflow code is deterministic: no I/O, no clock, no
// randomness except through @temporalio/workflow.
export { smoke, roundTrip, roundTrips } from './smoke.js';
export { sweep, progressQuery } from './sweep.js';
export { experiment, experimentPage } from './experiment.js';
export { reevaluate } from './reevaluate.js';
export { trivialSweep, trivialCell, trivialCellPage, trivialClass, trivialClassPage } from './trivial-sweep.js';
export { classImages, classImagesPage } from './class-images.js';
