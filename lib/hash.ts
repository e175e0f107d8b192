import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** sha256 of bytes (a string is hashed as UTF-8), lowercase hex. */
export function sha256Hex(bytes: Buffer | Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** sha256 and size of a file, read as a stream (constant memory). */
export async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const bytes = chunk as Buffer;
    hash.update(bytes);
    size += bytes.length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** sha256 of a file, read as a stream (constant memory), lowercase hex. */
export async function sha256File(path: string): Promise<string> {
  return (await hashFile(path)).sha256;
}

/** True for a lowercase 64-hex-digit sha256. */
export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}

/**
 * JSON text with object keys sorted (by UTF-16 code units, at every depth), so the same value always
 * gives the same text: use it to hash configs. Otherwise it follows JSON.stringify: `toJSON` is
 * honoured, `undefined`/functions/symbols are dropped from objects and become `null` in arrays,
 * non-finite numbers become `null`. Throws a TypeError on a cycle or a BigInt.
 * `space` indents like JSON.stringify's third argument (a number of spaces or a string).
 */
export function stableStringify(value: unknown, space?: number | string): string {
  const indent = typeof space === 'number' ? ' '.repeat(Math.max(0, Math.min(10, Math.floor(space)))) : (space ?? '').slice(0, 10);
  const stack = new Set<object>();

  const write = (input: unknown, key: string, currentIndent: string): string | undefined => {
    let v = input;
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      v = (v as { toJSON: (k: string) => unknown }).toJSON(key);
    }
    if (v === null) return 'null';
    switch (typeof v) {
      case 'string':
        return JSON.stringify(v);
      case 'number':
        return Number.isFinite(v) ? JSON.stringify(v) : 'null';
      case 'boolean':
        return v ? 'true' : 'false';
      case 'bigint':
        throw new TypeError(`stableStringify: cannot serialize a BigInt (at key "${key}")`);
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
      default:
        break;
    }
    const obj = v as object;
    if (obj instanceof Number || obj instanceof String || obj instanceof Boolean) {
      return write(obj.valueOf(), key, currentIndent);
    }
    if (stack.has(obj)) throw new TypeError(`stableStringify: cyclic structure (at key "${key}")`);
    stack.add(obj);
    const inner = currentIndent + indent;
    const open = indent ? `\n${inner}` : '';
    const sep = indent ? `,\n${inner}` : ',';
    const close = indent ? `\n${currentIndent}` : '';
    const colon = indent ? ': ' : ':';
    let out: string;
    if (Array.isArray(obj)) {
      const items = obj.map((item, i) => write(item, String(i), inner) ?? 'null');
      out = items.length === 0 ? '[]' : `[${open}${items.join(sep)}${close}]`;
    } else {
      const record = obj as Record<string, unknown>;
      const parts: string[] = [];
      for (const k of Object.keys(record).sort()) {
        const text = write(record[k], k, inner);
        if (text !== undefined) parts.push(`${JSON.stringify(k)}${colon}${text}`);
      }
      out = parts.length === 0 ? '{}' : `{${open}${parts.join(sep)}${close}}`;
    }
    stack.delete(obj);
    return out;
  };

  const text = write(value, '', '');
  if (text === undefined) throw new TypeError('stableStringify: value is not representable as JSON');
  return text;
}

/** sha256 (hex) of the stable JSON text of a value: equal values hash equal, whatever their key order. */
export function hashJson(value: unknown): string {
  return sha256Hex(stableStringify(value));
}
