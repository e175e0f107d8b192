import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { SynthmixConfig } from '../../temporal.config.js';
import { secrets } from '../config/load.js';

type TlsSettings = NonNullable<ConnectionOptions['tls']>;

function tlsOptions(config: SynthmixConfig): TlsSettings | undefined {
  const tls = config.temporal.tls;
  if (!tls.enabled) return undefined;
  const read = (p: string | undefined) => (p ? readFileSync(p) : undefined);
  const cert = read(tls.clientCertPath);
  const key = read(tls.clientKeyPath);
  return {
    serverNameOverride: tls.serverName,
    serverRootCACertificate: read(tls.serverRootCACertPath),
    ...(cert && key ? { clientCertPair: { crt: cert, key } } : {}),
  };
}

/** Options shared by client and worker connections; the API key is read from the environment here. */
function connectionSettings(config: SynthmixConfig, address: string) {
  const apiKey = secrets.temporalApiKey();
  const tls = tlsOptions(config) ?? (apiKey ? {} : undefined);
  return { address, tls, ...(apiKey ? { apiKey } : {}) };
}

export async function connectClient(config: SynthmixConfig, address = config.temporal.address): Promise<Client> {
  const connection = await Connection.connect(connectionSettings(config, address) as ConnectionOptions);
  return new Client({ connection, namespace: config.temporal.namespace });
}

export function connectWorker(config: SynthmixConfig, address = config.temporal.address): Promise<NativeConnection> {
  return NativeConnection.connect(connectionSettings(config, address) as NativeConnectionOptions);
}

/** A link to a workflow in the Temporal Web UI, when the UI's address is known. */
export function workflowUiLink(config: SynthmixConfig, workflowId: string): string | undefined {
  if (!config.temporal.uiUrl) return undefined;
  return `${config.temporal.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
