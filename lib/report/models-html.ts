/**
 * The "Models used" block at the head of index.html (issue 13): each model with its store key and
 * sha256, and the header's statements (stand-ins, FID comparability) where a reader cannot miss them.
 */
import { ROLE_WORDS, type ModelsHeader } from './models.js';

function escapeHtml(value: unknown): string {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

export function renderModelsHtml(models: ModelsHeader): string {
  const rows = models.models.map((m) => {
    const where = m.key ? `<code>${escapeHtml(m.key)}</code>${m.kind === 'folder' && m.files !== undefined ? ` (${m.files} file${m.files === 1 ? '' : 's'}, ${m.bytes} bytes)` : ''}` : '—';
    const sha = m.sha256 ? `<code>${escapeHtml(m.sha256)}</code><br><span class="small">of ${escapeHtml(m.sha256Of)}</span>` : escapeHtml(m.problem ?? m.sha256Of);
    return `<tr><th class="l">${escapeHtml(ROLE_WORDS[m.role])}</th><td class="l">${escapeHtml(m.what)}${m.standIn ? ' <b>(stand-in)</b>' : ''}</td><td class="l">${where}</td><td class="l">${sha}</td></tr>`;
  });
  const statements = models.statements.length > 0 ? `<div class="alert"><ul>${models.statements.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ul></div>` : '';
  return [
    '<h2 id="models">Models used</h2>',
    `<table>\n<tr><th class="l">role</th><th class="l">model</th><th class="l">store key</th><th class="l">sha256</th></tr>\n${rows.join('\n')}\n</table>`,
    statements,
    `<p class="small">sha256s read from ${escapeHtml(models.sha256Source)}.</p>`,
  ].join('\n');
}
