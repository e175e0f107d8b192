/**
 * The "Findings" section at the top of index.html: the paper's three observations, each with its
 * effect, 95 % interval and verdict per (init mode, source), written for a reader new to the sweep.
 */
import { sourceLabel } from './data.js';
import type { Effect, Findings, Verdict } from './findings.js';

function escapeHtml(value: unknown): string {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function signed(value: number, digits: number): string {
  const text = Math.abs(value).toFixed(digits);
  if (Number(text) === 0) return text;
  return `${value < 0 ? '−' : '+'}${text}`;
}

/** An effect in the words a reader uses: accuracy differences in percentage points. */
export function formatEffect(effect: Pick<Effect, 'unit'>, value: number): string {
  if (effect.unit === 'rank correlation') return signed(value, 2);
  const points = signed(value * 100, 1);
  return effect.unit === 'accuracy' ? `${points} pts` : `${points} pts per unit p`;
}

/** `[low, high] unit`: the unit once, after the bracket. */
export function formatInterval(effect: Pick<Effect, 'unit' | 'low' | 'high'>): string {
  if (effect.unit === 'rank correlation') return `[${signed(effect.low, 2)}, ${signed(effect.high, 2)}]`;
  const unit = effect.unit === 'accuracy' ? 'pts' : 'pts per unit p';
  return `[${signed(effect.low * 100, 1)}, ${signed(effect.high * 100, 1)}] ${unit}`;
}

const VERDICT_CLASS: Record<Verdict, string> = {
  holds: 'v-holds',
  'does not hold': 'v-not',
  'inconclusive at this sample size': 'v-inc',
};

export const FINDINGS_CSS = `
.findings { background: #fafbfd; border: 1px solid #dbe4f0; border-radius: 6px; padding: 4px 16px 10px; margin: 14px 0; }
.findings h3 { margin: 16px 0 4px; }
.findings .claim { margin: 2px 0 4px; }
.verdict { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.v-holds { background: #dcf1dc; color: #1d5e1d; }
.v-not { background: #fbe0dc; color: #8a2417; }
.v-inc { background: #ececec; color: #444; }
`;

export function renderFindingsHtml(findings: Findings): string {
  const out: string[] = [
    '<h2 id="findings">Findings</h2>',
    '<div class="findings">',
    `<p>What this sweep says about the paper's three observations. Each effect is shown with its ${Math.round(findings.level * 100)}% interval [low, high]. ` +
      '<span class="verdict v-holds">holds</span> means the whole interval lies on the side the paper claims, ' +
      '<span class="verdict v-not">does not hold</span> that it lies wholly on the other side, and ' +
      '<span class="verdict v-inc">inconclusive at this sample size</span> that it contains zero: more seeds or test images are needed to tell. ' +
      'Each row has its own 95% interval: among many rows, about one in twenty can land on the wrong side by chance, so read a lone verdict against its neighbours. ' +
      'Accuracy differences are in percentage points (pts). The same words are in <a href="findings.json">findings.json</a>.</p>',
  ];
  if (findings.notes.length > 0) out.push(`<p class="small">${findings.notes.map(escapeHtml).join('<br>')}</p>`);
  for (const obs of findings.observations) {
    out.push(
      `<h3>(${obs.id}) ${escapeHtml(obs.claim)}</h3>`,
      `<p class="claim small">Measured as ${escapeHtml(obs.test)} <b>Result:</b> ${escapeHtml(obs.summary)}.</p>`,
    );
    if (obs.rows.length === 0) continue;
    const caveats = [...new Set(obs.rows.flatMap((r) => r.caveats))];
    const methods = [...new Set(obs.rows.flatMap((r) => r.effects.map((e) => e.method)))];
    out.push('<table>', '<tr><th class="l">init mode</th><th class="l">source</th><th class="l">effect</th><th>estimate</th><th>95% interval</th><th class="l">verdict</th></tr>');
    for (const row of obs.rows) {
      row.effects.forEach((effect, i) => {
        const first = i === 0;
        const span = row.effects.length > 1 ? ` rowspan="${row.effects.length}"` : '';
        out.push(
          '<tr>' +
            (first ? `<td class="l"${span}>${escapeHtml(row.mode)}</td><td class="l"${span}>${escapeHtml(sourceLabel(row.source))}</td>` : '') +
            `<td class="l">${escapeHtml(effect.name)}</td>` +
            `<td>${escapeHtml(formatEffect(effect, effect.estimate))}</td>` +
            `<td>${escapeHtml(formatInterval(effect))}</td>` +
            (first ? `<td class="l"${span}><span class="verdict ${VERDICT_CLASS[row.verdict]}">${escapeHtml(row.verdict)}</span></td>` : '') +
            '</tr>',
        );
      });
    }
    out.push('</table>');
    out.push(`<p class="small">Intervals: ${methods.map(escapeHtml).join('; ')}.${caveats.length > 0 ? ` Caveats: ${caveats.map(escapeHtml).join('; ')}.` : ''}</p>`);
  }
  out.push('</div>');
  return out.join('\n');
}
