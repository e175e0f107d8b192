import { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
const c = new S3Client({ endpoint: 'http://127.0.0.1:41007', region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: process.argv[2] ?? 'AKTEST', secretAccessKey: 'SKTEST' } });
try { console.log(await c.send(new ListBucketsCommand({}))); } catch (e) { console.log('ERR', e.name, e.message); }
if (process.argv[3] === 'put') {
await c.send(new ListBucketsCommand({}));
await c.send(new PutObjectCommand({ Bucket: 'bkt1', Key: 'a/b.txt', Body: 'hello' }));
}
const r = await c.send(new GetObjectCommand({ Bucket: 'bkt1', Key: 'a/b.txt' }));
console.log(await r.Body.transformToString());
