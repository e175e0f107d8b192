/**
 * cpu: write one page of a large workflow value (per-class manifests, cell outcomes) to the store,
 * so that workflows carry `{ key, sha256 }` instead of the list (lib/store/values.ts). The page is
 * the activity's input once; every later step (joins, continueAsNew, the report) passes the reference.
 */
import type { ActivityDeps } from '../lib/deps.js';
import { BadInputError } from '../lib/errors.js';
import { assertSafePrefix, putValue, type StoredValue } from '../lib/store/index.js';

export interface StorePageInput {
  /** Store prefix of the page (content-addressed under it). */
  prefix: string;
  items: unknown[];
}

export function createValueActivities({ store }: ActivityDeps) {
  return {
    async storePage(input: StorePageInput): Promise<StoredValue> {
      if (!Array.isArray(input?.items)) throw new BadInputError(`storePage: items must be an array (prefix ${JSON.stringify(input?.prefix)})`);
      assertSafePrefix(`${input.prefix}/`);
      return putValue(store, input.prefix, input.items);
    },
  };
}
