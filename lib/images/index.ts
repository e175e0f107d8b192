export * from './format.js';
export * from './png.js';
export * from './normalize.js';
