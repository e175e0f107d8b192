/**
 * The report's "Prompts" section (§6.1): the prompts an LLM wrote per class, as generation used them,
 * with the endpoint, API, model and settings that wrote them (prompts.json holds every raw answer).
 */
import type { StoredPrompts } from '../steps/prompts.js';

function escapeHtml(value: unknown): string {
  return String(value).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** The section, classes in the report's order (a class with `classPrompts` of its own has none here). */
export function renderPromptsHtml(prompts: StoredPrompts, classes: readonly string[]): string {
  const { record } = prompts;
  const ordered = [...classes.filter((c) => prompts.prompts[c]), ...Object.keys(prompts.prompts).filter((c) => !classes.includes(c))];
  const rows = ordered.map(
    (name) => `<tr><th class="l">${escapeHtml(name)}</th><td class="l"><ol>${prompts.prompts[name].map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ol></td></tr>`,
  );
  const fallbacks = record.calls.filter((c) => c.fallback).length;
  return [
    '<h2 id="prompts">Prompts written by a language model (paper §6.1)</h2>',
    `<p>Model <code>${escapeHtml(record.model)}</code> at <code>${escapeHtml(record.endpoint)}</code> (${escapeHtml(record.api)} API), temperature ${escapeHtml(record.temperature)}, ` +
      `at most ${escapeHtml(record.maxTokens)} tokens${record.seed !== undefined ? `, seed ${escapeHtml(record.seed)}` : ''}; ${record.calls.length} requests from the templates ` +
      `${record.templates.map((t) => `<q>${escapeHtml(t)}</q>`).join(', ')}. Generation used them round-robin (image i: prompt i mod n; a fine-tuned source puts its identifier where the class is named). ` +
      `Every request and raw answer: <a href="prompts.json">prompts.json</a>.${fallbacks > 0 ? ` ${fallbacks} empty answer${fallbacks === 1 ? ' was' : 's were'} replaced by <q>a photo of a …</q>.` : ''}</p>`,
    `<table>\n<tr><th class="l">class</th><th class="l">prompts</th></tr>\n${rows.join('\n')}\n</table>`,
  ].join('\n');
}
