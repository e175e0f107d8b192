/**
 * The one way a configuration layer (a user's JSON file, a test's overrides) is laid over another
 * (a preset, the defaults): objects merge key by key, anything else replaces. A tagged object — one
 * with a `kind`, i.e. a member of a discriminated union (dataset sources, storage) — whose kind
 * differs from the one below replaces it whole: `{"kind": "local", "path": ...}` over the preset's
 * `{"kind": "demo", "domain": "target"}` must not inherit `domain`.
 */
type Layer = Record<string, unknown>;

function isObject(value: unknown): value is Layer {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Merges `layer` into `target` in place and returns `target`. */
export function mergeLayer(target: Layer, layer: Layer): Layer {
  for (const [key, value] of Object.entries(layer)) {
    const existing = target[key];
    const otherKind = isObject(value) && isObject(existing) && 'kind' in value && value.kind !== existing.kind;
    if (isObject(value) && isObject(existing) && !otherKind) {
      mergeLayer(existing, value);
    } else {
      target[key] = isObject(value) ? structuredClone(value) : value;
    }
  }
  return target;
}
