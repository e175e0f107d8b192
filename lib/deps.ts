import type { SynthmixConfig } from '../temporal.config.js';
import type { ArtifactStore } from './store/types.js';

/** What every activity gets: the artifact store and the validated configuration. */
export interface ActivityDeps {
  readonly store: ArtifactStore;
  readonly config: SynthmixConfig;
}
