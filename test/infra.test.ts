/**
 * The infra launchers against the real binaries: state survives kill -9 / stop and restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { s3ClientConfig, startSeaweedFS } from '../infra/seaweedfs.js';
import { startTemporalDevServer } from '../infra/temporal-dev-server.js';
import { withSeaweed, withTemporal } from './support/servers.js';

const scratch = mkdtempSync(path.join(os.tmpdir(), 'synthmix-infra-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('temporal dev server', () => {
  const temporal = withTemporal({ dbFile: path.join(scratch, 'temporal.sqlite') });

  it('keeps a workflow execution across kill -9 and restart on the same sqlite file', async () => {
    const server = temporal.server;
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.namespace).toBe('default');
    expect(server.uiUrl).toBeUndefined();

    const workflowId = `infra-test-${process.pid}-${Date.now()}`;
    const before = new Client({ connection: await temporal.connect(), namespace: server.namespace });
    const handle = await before.workflow.start('nonexistent', { taskQueue: 'nowhere', workflowId, args: [] });
    expect((await handle.describe()).status.name).toBe('RUNNING');

    const oldPid = server.pid;
    const address = server.address;
    await server.kill();
    expect(alive(oldPid)).toBe(false);

    await server.restart();
    expect(server.address).toBe(address);
    expect(server.pid).not.toBe(oldPid);

    const after = new Client({ connection: await temporal.connect(), namespace: server.namespace });
    const description = await after.workflow.getHandle(workflowId).describe();
    expect(description.workflowId).toBe(workflowId);
    expect(description.type).toBe('nonexistent');
    expect(description.taskQueue).toBe('nowhere');
    expect(description.status.name).toBe('RUNNING');
    const namespaces = await after.connection.workflowService.listNamespaces({});
    expect(namespaces.namespaces.map((n) => n.namespaceInfo?.name)).toContain('default');
    await after.workflow.getHandle(workflowId).terminate('infra test done');
  });

  it('runs a second server side by side with the UI and its own namespace, and stops it cleanly', async () => {
    const other = await startTemporalDevServer({ ui: true, namespace: 'synthmix-infra' });
    try {
      expect(other.address).not.toBe(temporal.server.address);
      expect(other.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const connection = await Connection.connect({ address: other.address });
      try {
        const described = await connection.workflowService.describeNamespace({ namespace: 'synthmix-infra' });
        expect(described.namespaceInfo?.name).toBe('synthmix-infra');
      } finally {
        await connection.close();
      }
      const ui = await fetch(other.uiUrl as string);
      expect(ui.status).toBe(200);
    } finally {
      const pid = other.pid;
      await other.stop();
      expect(alive(pid)).toBe(false);
    }
  });
});

describe('seaweedfs (S3)', () => {
  const s3 = withSeaweed({ dataDir: path.join(scratch, 'seaweed'), bucket: 'infra-test' });

  async function put(client: S3Client, key: string, body: string): Promise<void> {
    await client.send(new PutObjectCommand({ Bucket: s3.server.bucket, Key: key, Body: body }));
  }
  async function get(client: S3Client, key: string): Promise<string> {
    const response = await client.send(new GetObjectCommand({ Bucket: s3.server.bucket, Key: key }));
    return (await response.Body?.transformToString()) ?? '';
  }

  it('keeps objects across stop/restart and kill -9/restart on the same data dir', async () => {
    const server = s3.server;
    expect(server.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const endpoint = server.endpoint;
    const client = s3.client();

    await put(client, 'a/first.txt', 'first object');
    expect(await get(client, 'a/first.txt')).toBe('first object');

    let pid = server.pid;
    await server.stop();
    expect(alive(pid)).toBe(false);
    await server.restart();
    expect(server.endpoint).toBe(endpoint);
    expect(await get(client, 'a/first.txt')).toBe('first object');

    await put(client, 'b/second.bin', 'second object');
    pid = server.pid;
    await server.kill();
    expect(alive(pid)).toBe(false);
    await server.restart();
    expect(await get(client, 'b/second.bin')).toBe('second object');
    expect(await get(client, 'a/first.txt')).toBe('first object');
  });

  it('rejects wrong credentials', async () => {
    const bad = new S3Client({ ...s3ClientConfig({ ...s3.server, secretAccessKey: 'wrong-secret' }), maxAttempts: 1 });
    try {
      await expect(bad.send(new ListBucketsCommand({}))).rejects.toThrow();
    } finally {
      bad.destroy();
    }
  });

  it('starts a second server with a temp data dir on other ports', async () => {
    const other = await startSeaweedFS();
    try {
      expect(other.endpoint).not.toBe(s3.server.endpoint);
      const client = new S3Client(s3ClientConfig(other));
      try {
        const buckets = await client.send(new ListBucketsCommand({}));
        expect(buckets.Buckets?.map((b) => b.Name)).toContain('synthmix');
      } finally {
        client.destroy();
      }
    } finally {
      await other.stop();
    }
  });
});
