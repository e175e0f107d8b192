/**
 * The Findings as one SVG picture (what the HTML section says, laid out as a table), so it can be
 * turned into a PNG with resvg for a README or a slide without a browser.
 */
import { escapeHtml } from './html.js';
import { sourceLabel } from './data.js';
import { formatEffect, formatInterval } from './findings-html.js';
import type { Findings, Verdict } from './findings.js';
import { REPORT_FONT_FAMILY, textWidth } from './fonts.js';

const VERDICT_COLOURS: Record<Verdict, { fill: string; text: string }> = {
  holds: { fill: '#dcf1dc', text: '#1d5e1d' },
  'does not hold': { fill: '#fbe0dc', text: '#8a2417' },
  'inconclusive at this sample size': { fill: '#ececec', text: '#444444' },
};

const HEADERS = ['init mode', 'source', 'effect', 'estimate', '95% interval', 'verdict'];

/** Column x positions from the widest text in each column (DejaVu Sans metrics, as resvg draws it). */
function columnsOf(findings: Findings): { columns: number[]; width: number } {
  const widths = HEADERS.map((h) => textWidth(h, 12, true));
  for (const row of findings.observations.flatMap((o) => o.rows)) {
    const cells = [row.mode, sourceLabel(row.source)];
    widths[0] = Math.max(widths[0], textWidth(cells[0], 13));
    widths[1] = Math.max(widths[1], textWidth(cells[1], 13));
    widths[5] = Math.max(widths[5], textWidth(row.verdict, 12, true) + 12);
    for (const effect of row.effects) {
      widths[2] = Math.max(widths[2], textWidth(effect.name, 12));
      widths[3] = Math.max(widths[3], textWidth(formatEffect(effect, effect.estimate), 13));
      widths[4] = Math.max(widths[4], textWidth(formatInterval(effect), 13));
    }
  }
  const columns: number[] = [];
  let x = 16;
  for (const w of widths) {
    columns.push(Math.round(x));
    x += w + 22;
  }
  return { columns, width: Math.max(900, Math.round(x)) };
}

/** `text` broken at spaces into lines no wider than `maxWidth` at `fontSize` (a longer word keeps a line of its own). */
export function wrapText(text: string, fontSize: number, maxWidth: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    const next = line ? `${line} ${word}` : word;
    if (line && textWidth(next, fontSize) > maxWidth) {
      lines.push(line);
      line = word;
    } else {
      line = next;
    }
  }
  return line ? [...lines, line] : lines;
}

export function renderFindingsSvg(findings: Findings, title: string): string {
  const { columns: COLUMNS, width: WIDTH } = columnsOf(findings);
  const lines: string[] = [];
  let y = 34;
  const text = (x: number, value: string, opts: { size?: number; weight?: string; fill?: string; anchor?: string } = {}): void => {
    lines.push(
      `<text x="${x}" y="${y}" font-size="${opts.size ?? 13}"${opts.weight ? ` font-weight="${opts.weight}"` : ''} fill="${opts.fill ?? '#222222'}"${opts.anchor ? ` text-anchor="${opts.anchor}"` : ''}>${escapeHtml(value)}</text>`,
    );
  };
  text(16, title, { size: 20, weight: 'bold' });
  y += 22;
  text(16, `Each effect with its ${Math.round(findings.level * 100)}% interval; "holds" = the whole interval on the side the paper claims, "does not hold" = wholly on the other side, else inconclusive. Accuracy differences in percentage points (pts).`, { size: 12, fill: '#555555' });
  for (const note of findings.notes) {
    for (const line of wrapText(note, 12, WIDTH - 32)) {
      y += 17;
      text(16, line, { size: 12, fill: '#7a5b00' });
    }
  }
  for (const obs of findings.observations) {
    y += 34;
    text(16, `(${obs.id}) ${obs.claim}`, { size: 15, weight: 'bold' });
    y += 18;
    text(16, `Result: ${obs.summary}.`, { size: 12, fill: '#555555' });
    if (obs.rows.length === 0) continue;
    y += 22;
    HEADERS.forEach((h, i) => text(COLUMNS[i], h, { size: 12, weight: 'bold', fill: '#444444' }));
    lines.push(`<line x1="16" x2="${WIDTH - 16}" y1="${y + 6}" y2="${y + 6}" stroke="#cccccc"/>`);
    for (const row of obs.rows) {
      row.effects.forEach((effect, i) => {
        y += 20;
        if (i === 0) {
          text(COLUMNS[0], row.mode);
          text(COLUMNS[1], sourceLabel(row.source));
          const colour = VERDICT_COLOURS[row.verdict];
          const width = 12 + textWidth(row.verdict, 12, true);
          lines.push(`<rect x="${COLUMNS[5] - 4}" y="${y - 13}" width="${width.toFixed(0)}" height="18" rx="9" fill="${colour.fill}"/>`);
          text(COLUMNS[5] + 2, row.verdict, { size: 12, weight: 'bold', fill: colour.text });
        }
        text(COLUMNS[2], effect.name, { size: 12 });
        text(COLUMNS[3], formatEffect(effect, effect.estimate));
        text(COLUMNS[4], formatInterval(effect));
      });
    }
  }
  y += 24;
  const height = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="${REPORT_FONT_FAMILY}">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...lines,
    '</svg>',
    '',
  ].join('\n');
}
