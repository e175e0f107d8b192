/** The artifact store: types, the one store core, its two backends, and `createStore` from settings. */
import { BadInputError } from '../errors.js';
import { createLocalStore } from './local.js';
import { createS3Store, type S3StoreOptions } from './s3.js';
import type { ArtifactStore } from './types.js';

export type { ArtifactStore, Body, ObjectInfo, PutOptions } from './types.js';
export { createLocalStore, type LocalStore } from './local.js';
export { createS3Store, type S3Store, type S3StoreOptions } from './s3.js';
export { assertSafeKey, assertSafePrefix, contentKey, folderPrefix, localPathForKey } from './common.js';
export { getValue, isStoredList, putValue, readList, type StoredList, type StoredValue } from './values.js';
export { createStoreCore, type ByteBackend, type OpenedObject, type Recorded } from './core.js';

export type StoreSettings =
  | { readonly kind: 'local'; readonly dir: string }
  | ({ readonly kind: 's3' } & S3StoreOptions);

/** The store the settings describe (`temporal.config.ts` `storage`). Credentials come from the SDK's default chain. */
export function createStore(settings: StoreSettings): ArtifactStore {
  switch (settings?.kind) {
    case 'local':
      return createLocalStore(settings.dir);
    case 's3': {
      const { kind: _kind, ...options } = settings;
      return createS3Store(options);
    }
    default:
      throw new BadInputError(`storage.kind must be "local" or "s3", got ${JSON.stringify((settings as { kind?: unknown } | undefined)?.kind)}`);
  }
}
