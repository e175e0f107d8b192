import { Context } from '@temporalio/activity';
import type { SynthmixConfig } from '../temporal.config.js';
import type { ArtifactStore } from './store/types.js';

/** What every activity gets: the artifact store and the validated configuration. */
export interface ActivityDeps {
  readonly store: ArtifactStore;
  readonly config: SynthmixConfig;
}

/** The Temporal activity this code runs in, or undefined when called directly (tests, the CLI). */
export function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}
