/**
 * How `watch` and the demo draw successive frames. On a terminal: the full picture redrawn in place.
 * Into a log or a pipe: one line per frame would repeat the same line every few seconds for hours
 * (and `\r` redraws make one giant line), so a line is printed only when it differs from the last
 * one printed, at most once per `minIntervalMs`, and otherwise once per `keepAliveMs` as a sign of life.
 */
import { formatProgress, renderProgress, type SweepSnapshot } from './sweep-progress.js';

export interface TickerOptions {
  /** Redraw in place (stdout is a terminal). */
  tty: boolean;
  write: (text: string) => void;
  /** Not a terminal: the least time between two printed lines. */
  minIntervalMs?: number;
  /** Not a terminal: print the unchanged line again after this long. */
  keepAliveMs?: number;
}

export class ProgressTicker {
  private drawn = 0;
  private last: { line: string; at: number } | undefined;
  private readonly minIntervalMs: number;
  private readonly keepAliveMs: number;

  constructor(private readonly options: TickerOptions) {
    this.minIntervalMs = options.minIntervalMs ?? 10_000;
    this.keepAliveMs = options.keepAliveMs ?? 300_000;
  }

  /** Draw one frame; `now` in ms (Date.now()). */
  draw(snapshot: SweepSnapshot, now: number): void {
    if (this.options.tty) {
      const lines = renderProgress(snapshot, now);
      // Up over the previous frame, clear it, draw this one.
      this.options.write(`${this.drawn ? `\x1b[${this.drawn}F\x1b[0J` : ''}${lines.join('\n')}\n`);
      this.drawn = lines.length;
      return;
    }
    const line = formatProgress(snapshot, now);
    if (this.shouldPrint(line, now)) {
      this.options.write(`${line}\n`);
      this.last = { line, at: now };
    }
  }

  /** A log line: new and not too soon after the last, or the same line after `keepAliveMs`. */
  shouldPrint(line: string, now: number): boolean {
    if (!this.last) return true;
    const since = now - this.last.at;
    return line !== this.last.line ? since >= this.minIntervalMs : since >= this.keepAliveMs;
  }
}
