/** What an engine process inherits from its worker: never the worker's secrets. */

/**
 * Worker secrets an engine never needs (it reads local files only and talks to no service):
 * Replicate, AWS (S3) and Temporal credentials, LLM keys, and anything named like a credential.
 */
const SECRET_ENV = /^AWS_|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_KEY|ACCESS_KEY|PRIVATE_KEY|SESSION_KEY/i;

/** `env` less the worker's secrets: what an engine process, or the warm forkserver, starts with. */
export function withoutSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !SECRET_ENV.test(name)));
}
