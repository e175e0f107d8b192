/**
 * A reader for the small TOML subset of Temporal's client config file (`temporal.toml`):
 * `[dotted.table]` headers, `key = value` with basic ("...") or literal ('...') strings, booleans
 * and integers, `#` comments. We read it ourselves because the SDK's own loader
 * (`@temporalio/envconfig`) is not installed here; anything outside the subset is an error naming
 * the file and line rather than a silently different reading (test/temporal-env.test.ts checks
 * our reading against Python's `tomllib`).
 */
export type TomlValue = string | boolean | number | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

export class TomlError extends Error {
  constructor(file: string, line: number, problem: string) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'TomlError';
  }
}

const BARE_KEY = /^[A-Za-z0-9_-]+$/;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' };

/** Split `a."b.c".d` into keys; quoted parts may hold dots. */
function parseKey(text: string, fail: (problem: string) => never): string[] {
  const keys: string[] = [];
  let rest = text.trim();
  for (;;) {
    let key: string;
    if (rest.startsWith('"') || rest.startsWith("'")) {
      const [value, after] = readString(rest, fail);
      key = value;
      rest = after.trim();
    } else {
      const end = rest.search(/[.\s]/);
      key = end === -1 ? rest : rest.slice(0, end);
      if (!BARE_KEY.test(key)) fail(`unsupported key ${JSON.stringify(text.trim())}`);
      rest = (end === -1 ? '' : rest.slice(end)).trim();
    }
    keys.push(key);
    if (rest === '') return keys;
    if (!rest.startsWith('.')) fail(`unsupported key ${JSON.stringify(text.trim())}`);
    rest = rest.slice(1).trim();
  }
}

/** Read one string at the start of `text`; returns it and what follows. */
function readString(text: string, fail: (problem: string) => never): [string, string] {
  const quote = text[0];
  if (text.startsWith(quote.repeat(3))) fail('multi-line strings are not supported');
  let out = '';
  for (let i = 1; i < text.length; i++) {
    const ch = text[i];
    if (ch === quote) return [out, text.slice(i + 1)];
    if (quote === '"' && ch === '\\') {
      const next = text[i + 1];
      if (next === 'u' || next === 'U') {
        const width = next === 'u' ? 4 : 8;
        const hex = text.slice(i + 2, i + 2 + width);
        if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== width) fail('bad unicode escape');
        out += String.fromCodePoint(parseInt(hex, 16));
        i += 1 + width;
        continue;
      }
      if (!(next in ESCAPES)) fail(`bad escape \\${next ?? ''}`);
      out += ESCAPES[next];
      i++;
      continue;
    }
    out += ch;
  }
  return fail('unterminated string');
}

function parseValue(text: string, fail: (problem: string) => never): TomlValue {
  const trimmed = text.trim();
  if (trimmed.startsWith('"') || trimmed.startsWith("'")) {
    const [value, after] = readString(trimmed, fail);
    if (!/^\s*(#.*)?$/.test(after)) fail(`unexpected text after a string: ${JSON.stringify(after.trim())}`);
    return value;
  }
  const bare = trimmed.replace(/\s*#.*$/, '');
  if (bare === 'true') return true;
  if (bare === 'false') return false;
  if (/^[+-]?(0|[1-9](_?\d)*)$/.test(bare)) return Number(bare.replace(/_/g, ''));
  return fail(`unsupported value ${JSON.stringify(bare)} (strings, booleans and integers only)`);
}

/** Descend into (creating) the table at `keys`; a key that holds a value is an error. */
function tableAt(root: TomlTable, keys: string[], fail: (problem: string) => never): TomlTable {
  let node = root;
  for (const key of keys) {
    const child = node[key];
    if (child === undefined) node[key] = {};
    else if (typeof child !== 'object') fail(`${keys.join('.')}: ${key} is already a value`);
    node = node[key] as TomlTable;
  }
  return node;
}

export function parseToml(text: string, file: string): TomlTable {
  const root: TomlTable = {};
  let current = root;
  const seenTables = new Set<string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const fail = (problem: string): never => {
      throw new TomlError(file, index + 1, problem);
    };
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('[[')) fail('arrays of tables are not supported');
    if (line.startsWith('[')) {
      const header = /^\[([^\]]+)\]\s*(#.*)?$/.exec(line);
      if (!header) return fail(`bad table header ${JSON.stringify(line)}`);
      const keys = parseKey(header[1], fail);
      const name = JSON.stringify(keys);
      if (seenTables.has(name)) fail(`table [${keys.join('.')}] defined twice`);
      seenTables.add(name);
      current = tableAt(root, keys, fail);
      return;
    }
    const eq = findEquals(line);
    if (eq === -1) fail(`expected key = value, got ${JSON.stringify(line)}`);
    const keys = parseKey(line.slice(0, eq), fail);
    const target = tableAt(current, keys.slice(0, -1), fail);
    const last = keys[keys.length - 1];
    if (last in target) fail(`${keys.join('.')} defined twice`);
    target[last] = parseValue(line.slice(eq + 1), fail);
  });
  return root;
}

/** The `=` that ends the key (not one inside a quoted key). */
function findEquals(line: string): number {
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quote) {
      if (ch === quote) quote = undefined;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '=') return i;
  }
  return -1;
}
