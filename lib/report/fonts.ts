/**
 * Text measurement for vega in Node. Without a canvas vega guesses 0.8 em per character, which
 * makes legends and titles far too wide. The report renders with DejaVu Sans (resvg, system fonts),
 * so we give vega that font's advance widths: layout then matches the rendered text, and it does not
 * depend on which fonts or canvas the machine has (same input ⇒ same SVG bytes everywhere).
 */
import * as vega from 'vega';

export const REPORT_FONT = 'DejaVu Sans';
/** CSS font-family list in SVGs: DejaVu Sans first (what resvg renders and vega measures). */
export const REPORT_FONT_FAMILY = 'DejaVu Sans, Verdana, Arial, sans-serif';

// Advance widths of ASCII 32..126 in DejaVu Sans (units per em 2048), regular and bold.
// prettier-ignore
const REGULAR = [651,821,942,1716,1303,1946,1597,563,799,799,1024,1716,651,739,651,690,1303,1303,1303,1303,1303,1303,1303,1303,1303,1303,690,690,1716,1716,1716,1087,2048,1401,1405,1430,1577,1294,1178,1587,1540,604,604,1343,1141,1767,1532,1612,1235,1612,1423,1300,1251,1499,1401,2025,1403,1251,1403,799,690,799,1716,1024,1024,1255,1300,1126,1300,1260,721,1300,1298,569,569,1186,569,1995,1298,1253,1300,1300,842,1067,803,1298,1212,1675,1212,1212,1075,1303,690,1303,1716];
// prettier-ignore
const BOLD = [713,934,1067,1716,1425,2052,1786,627,936,936,1071,1716,778,850,778,748,1425,1425,1425,1425,1425,1425,1425,1425,1425,1425,819,819,1716,1716,1716,1188,2048,1585,1561,1503,1700,1399,1399,1681,1714,762,762,1587,1305,2038,1714,1741,1501,1741,1577,1475,1397,1663,1585,2259,1579,1483,1485,936,748,936,1716,1024,1024,1382,1466,1214,1466,1389,891,1466,1458,702,702,1362,702,2134,1458,1407,1466,1466,1010,1219,979,1458,1335,1892,1321,1335,1192,1458,748,1458,1716];
const OTHER: Record<string, number> = { '×': 1716, '–': 1024, '—': 2048, '±': 1716, '…': 2048, '≤': 1716, '≥': 1716, '·': 651 };

function isBold(weight: unknown): boolean {
  if (typeof weight === 'number') return weight >= 600;
  return weight === 'bold' || weight === 'bolder' || (typeof weight === 'string' && Number(weight) >= 600);
}

/** Width in pixels of `text` set in DejaVu Sans at `fontSize` px. */
export function textWidth(text: string, fontSize: number, bold = false): number {
  const table = bold ? BOLD : REGULAR;
  let units = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 32;
    units += code >= 32 && code <= 126 ? table[code - 32] : (OTHER[ch] ?? 1434);
  }
  return (units / 2048) * fontSize;
}

interface TextItem {
  fontSize?: number;
  fontWeight?: string | number;
  text?: unknown;
  limit?: number;
}

interface TextMetrics {
  width: (item: TextItem, text?: unknown) => number;
}

let installed = false;

/** Make vega measure text with DejaVu Sans metrics (idempotent; process-wide, deterministic). */
export function installTextMetrics(): void {
  if (installed) return;
  const metrics = (vega as unknown as { textMetrics?: TextMetrics }).textMetrics;
  if (!metrics) throw new Error('vega does not export textMetrics: cannot set the report font metrics');
  metrics.width = (item: TextItem, text?: unknown): number => {
    const size = item.fontSize != null ? +item.fontSize || 0 : 11;
    const value = text == null ? '' : String(text).trim();
    return size <= 0 || !value ? 0 : textWidth(value, size, isBold(item.fontWeight));
  };
  installed = true;
}
