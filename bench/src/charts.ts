/**
 * One SVG bar chart per workload, written by hand (no chart library): a panel per metric, a
 * horizontal bar per contender, labelled with its median and its ratio to the node:net floor.
 */
import { FLOOR } from './comparisons.js';
import { CONTENDERS, LABEL } from './contenders.js';
import { formatRatio, formatValue, type Row } from './report.js';

const WIDTH = 820;
const LABEL_WIDTH = 170;
const VALUE_WIDTH = 170;
const BAR_HEIGHT = 18;
const BAR_GAP = 6;
const TITLE_HEIGHT = 28;
const PANEL_GAP = 14;

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function colour(contender: string): string {
  if (contender === FLOOR) return '#7f7f7f';
  return contender.startsWith('pollux-') ? '#d9480f' : '#1c7ed6';
}

/** The chart of one workload from its rows (one per metric). */
export function chart(title: string, list: readonly Row[]): string {
  const parts: string[] = [];
  let y = 0;
  parts.push(`<text x="0" y="${(y += 20)}" font-size="16" font-weight="bold">${escapeXml(title)}</text>`);
  y += 8;
  for (const row of list) {
    const bars = CONTENDERS.filter((contender) => row.values[contender] !== undefined);
    const max = Math.max(...bars.map((contender) => row.values[contender] ?? 0));
    parts.push(
      `<text x="0" y="${(y += TITLE_HEIGHT - 8)}" font-size="13">${escapeXml(`${row.label}: ${row.unit}, ${row.better} is better`)}</text>`,
    );
    y += 8;
    for (const contender of bars) {
      const value = row.values[contender] ?? 0;
      const span = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
      const length = max > 0 ? Math.max(1, (value / max) * span) : 1;
      const ratio = contender === FLOOR ? 'floor' : formatRatio(row.ratios[contender] ?? Number.NaN);
      parts.push(
        `<text x="${LABEL_WIDTH - 6}" y="${y + BAR_HEIGHT - 5}" font-size="12" text-anchor="end">${escapeXml(LABEL[contender])}</text>`,
        `<rect x="${LABEL_WIDTH}" y="${y}" width="${length.toFixed(1)}" height="${BAR_HEIGHT}" fill="${colour(contender)}"/>`,
        `<text x="${(LABEL_WIDTH + length + 6).toFixed(1)}" y="${y + BAR_HEIGHT - 5}" font-size="12">${escapeXml(`${formatValue(value)} (${ratio})`)}</text>`,
      );
      y += BAR_HEIGHT + BAR_GAP;
    }
    y += PANEL_GAP;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
