/**
 * Real servers for test files: call at the top of a file or `describe` block; the server starts in
 * `beforeAll` and stops in `afterAll`.
 *
 *   const temporal = withTemporal();
 *   const s3 = withSeaweed();
 *   it('...', async () => { const client = new Client({ connection: await temporal.connect() }); ... s3.client() ... });
 */
import { S3Client } from '@aws-sdk/client-s3';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll } from 'vitest';
import { s3ClientConfig, startSeaweedFS, type S3Server, type SeaweedFSOptions } from '../../infra/seaweedfs.js';
import { startTemporalDevServer, type DevServer, type TemporalDevServerOptions } from '../../infra/temporal-dev-server.js';

export interface TemporalHandle {
  /** The running server (throws before `beforeAll` has run). */
  readonly server: DevServer;
  /** A new connection to it, closed automatically in `afterAll`. */
  connect(): Promise<Connection>;
}

export interface SeaweedHandle {
  /** The running server (throws before `beforeAll` has run). */
  readonly server: S3Server;
  /** A path-style S3 client for it, destroyed automatically in `afterAll`. */
  client(): S3Client;
}

export function withTemporal(options?: TemporalDevServerOptions): TemporalHandle {
  let server: DevServer | undefined;
  const connections: Connection[] = [];
  beforeAll(async () => {
    server = await startTemporalDevServer(options);
  });
  afterAll(async () => {
    await Promise.allSettled(connections.map((c) => c.close()));
    await server?.stop();
  });
  return {
    get server(): DevServer {
      if (!server) throw new Error('withTemporal(): the server is started in beforeAll; use it inside tests or hooks');
      return server;
    },
    async connect(): Promise<Connection> {
      if (!server) throw new Error('withTemporal(): the server is not started yet');
      const connection = await Connection.connect({ address: server.address });
      connections.push(connection);
      return connection;
    },
  };
}

export function withSeaweed(options?: SeaweedFSOptions): SeaweedHandle {
  let server: S3Server | undefined;
  const clients: S3Client[] = [];
  beforeAll(async () => {
    server = await startSeaweedFS(options);
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await server?.stop();
  });
  return {
    get server(): S3Server {
      if (!server) throw new Error('withSeaweed(): the server is started in beforeAll; use it inside tests or hooks');
      return server;
    },
    client(): S3Client {
      if (!server) throw new Error('withSeaweed(): the server is not started yet');
      const client = new S3Client(s3ClientConfig(server));
      clients.push(client);
      return client;
    },
  };
}
