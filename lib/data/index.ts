/** Dataset plumbing shared by the steps: manifests, image-folder sources, the demo world, helpers. */
export * from './manifest.js';
export * from './source.js';
export * from './demo-world.js';
export * from './rounding.js';
