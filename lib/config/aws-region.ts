/**
 * The S3 store's AWS region. Unset in synthmix's config, it comes from the AWS SDK's own default
 * chain (AWS_REGION, then the region of AWS_PROFILE — or `default` — in the shared config file,
 * ~/.aws/config or AWS_CONFIG_FILE), exactly as every other AWS tool on the machine resolves it:
 * a pool configured for the AWS CLI needs nothing more for synthmix.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { BadInputError } from '../errors.js';

/** What S3-compatible servers get when nothing names a region: they ignore it, the signer needs one. */
export const CUSTOM_ENDPOINT_FALLBACK_REGION = 'us-east-1';

/** The region of the AWS SDK's default chain, or undefined when nothing sets one. */
export async function defaultChainRegion(): Promise<string | undefined> {
  // The SDK's client resolves `config.region` through the default chain when given none.
  const probe = new S3Client({});
  try {
    return await probe.config.region();
  } catch {
    return undefined; // "Region is missing": nothing in the chain
  } finally {
    probe.destroy();
  }
}

/**
 * The region an S3 client gets: the configured one, else (resolved lazily, on the first request)
 * the default chain's; with a custom endpoint and no region anywhere, us-east-1. Against AWS itself
 * with no region anywhere: a permanent error naming where to set one.
 */
export function s3Region(options: { region?: string; endpoint?: string }, where: string): string | (() => Promise<string>) {
  if (options.region) return options.region;
  return async () => {
    const found = await defaultChainRegion();
    if (found) return found;
    if (options.endpoint) return CUSTOM_ENDPOINT_FALLBACK_REGION;
    throw new BadInputError(
      `${where}: no AWS region: set storage.region (SYNTHMIX_S3_REGION), AWS_REGION, or a region in the AWS profile (AWS_PROFILE in ~/.aws/config)`,
    );
  };
}
