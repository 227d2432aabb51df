/**
 * A small bar chart of daily spend as inline SVG markup: geometry in attributes, colours from classes in the
 * static stylesheet, so the strict CSP (no inline style) holds. Pure: days in, markup out.
 */
import { html, type Html } from '../ui/html.js';

export interface ChartDay {
  day: string;
  spentUsd: number;
}

const WIDTH = 600;
const HEIGHT = 140;
const AXIS = 18;

/** Bars for `days` (oldest first, every day present), scaled to the largest; a day without spend is a baseline tick. */
export function dailySpendChart(days: readonly ChartDay[], label: string): Html {
  const max = Math.max(0, ...days.map((d) => d.spentUsd));
  const slot = days.length > 0 ? WIDTH / days.length : WIDTH;
  const barWidth = Math.max(1, slot - 2);
  const plot = HEIGHT - AXIS;
  const bars = days.map((d, i) => {
    const h = max > 0 ? Math.max(d.spentUsd > 0 ? 2 : 0, Math.round((d.spentUsd / max) * (plot - 4))) : 0;
    const x = (i * slot + 1).toFixed(1);
    return html`<rect class="${h > 0 ? 'bar' : 'bar empty'}" x="${x}" y="${plot - Math.max(h, 1)}" width="${barWidth.toFixed(1)}" height="${Math.max(h, 1)}"><title>${d.day}: $${d.spentUsd.toFixed(4)}</title></rect>`;
  });
  const first = days[0]?.day ?? '';
  const last = days[days.length - 1]?.day ?? '';
  return html`<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${label}" data-testid="spend-chart">
<line class="axis" x1="0" y1="${plot}" x2="${WIDTH}" y2="${plot}"></line>
${bars}
<text class="tick" x="0" y="${HEIGHT - 4}">${first}</text><text class="tick" x="${WIDTH}" y="${HEIGHT - 4}" text-anchor="end">${last}</text>
<text class="tick" x="${WIDTH}" y="12" text-anchor="end">max $${max.toFixed(2)}</text>
</svg>`;
}
