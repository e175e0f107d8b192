/**
 * Which endpoints may receive a worker secret (the Replicate token, an LLM key): the worker's own
 * configuration decides (`endpoints` in temporal.config.ts), never the sweep config that names them.
 */
import type { SynthmixConfig } from '../../temporal.config.js';
import { BadInputError } from '../errors.js';

export type EndpointPolicy = SynthmixConfig['endpoints'];

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

function matches(url: URL, allowed: string): boolean {
  let entry: URL;
  try {
    entry = new URL(allowed);
  } catch {
    return false;
  }
  if (entry.protocol !== 'https:' || entry.origin !== url.origin) return false;
  const base = entry.pathname.replace(/\/+$/, '');
  return base === '' || url.pathname === base || url.pathname.startsWith(`${base}/`);
}

/**
 * Check that `url` may receive `secret` under the worker's `policy`: https and on
 * `endpoints.allowed`, or on loopback when `endpoints.allowLoopbackHttp` is set. A refused
 * endpoint is a BadInputError (permanent) naming the URL and the setting; call it before any request.
 */
export function assertSecretEndpoint(url: string, policy: EndpointPolicy, what: string, secret: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new BadInputError(`${what}: endpoint ${JSON.stringify(url)} is not a URL`);
  }
  const web = parsed.protocol === 'https:' || parsed.protocol === 'http:';
  if (web && policy.allowLoopbackHttp && LOOPBACK_HOST.test(parsed.hostname)) return;
  if (parsed.protocol !== 'https:') {
    throw new BadInputError(
      `${what}: endpoint ${url} is refused: it would receive ${secret} over ${parsed.protocol.replace(/:$/, '')}; ` +
        'secret-bearing endpoints must be https (http only on loopback, when the worker config sets endpoints.allowLoopbackHttp / SYNTHMIX_ALLOW_LOOPBACK_HTTP); nothing was sent',
    );
  }
  if (!policy.allowed.some((allowed) => matches(parsed, allowed))) {
    throw new BadInputError(
      `${what}: endpoint ${url} is refused: it would receive ${secret} and is not on the worker's allow-list ` +
        `(endpoints.allowed / SYNTHMIX_ALLOWED_ENDPOINTS in the worker's configuration: ${policy.allowed.join(', ') || 'empty'}); nothing was sent`,
    );
  }
}
