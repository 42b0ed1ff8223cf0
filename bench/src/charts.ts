/**
 * One SVG chart per workload, rendered headlessly by Vega (`View.toSVG()`, no browser, no
 * canvas). A workload with one figure per metric gets horizontal bars, a panel per metric, each
 * bar labelled with its median and its ratio to the node:net floor; a curve (warm-up, fd count)
 * gets a line per contender.
 */
import { parse, View, type Spec } from 'vega';
import { FLOOR } from './comparisons.js';
import { CONTENDERS, LABEL, type Contender } from './contenders.js';
import { formatRatio, formatValue, type Row } from './report.js';
import { curveAxis } from './workloads.js';

const WIDTH = 640;
/** Room right of the longest bar for its "value (ratio)" label. */
const BAR_LABEL_WIDTH = 150;
const BAR_STEP = 24;
const CURVE_HEIGHT = 300;
const FLOOR_COLOUR = '#7f7f7f';
const POLLUX_COLOUR = '#d9480f';
const PEER_COLOUR = '#1c7ed6';
/** Line colours in column order; the floor is always grey. */
const LINE_COLOURS = [POLLUX_COLOUR, PEER_COLOUR, '#2f9e44', '#7048e8', '#e8590c', '#0c8599'];

/** Bars say who is who at a glance: pollux, the floor, everyone else. */
function barColour(contender: Contender): string {
  if (contender === FLOOR) return FLOOR_COLOUR;
  return contender.startsWith('pollux-') ? POLLUX_COLOUR : PEER_COLOUR;
}

function ran(row: Row): Contender[] {
  return CONTENDERS.filter((contender) => Number.isFinite(row.values[contender] ?? Number.NaN));
}

function panelTitle(row: Row): string {
  return `${row.label}: ${row.unit}, ${row.better} is better`;
}

function barSpec(title: string, list: readonly Row[]): Spec {
  const bars = list.flatMap((row, panel) =>
    ran(row).map((contender, rank) => {
      const ratio = contender === FLOOR ? 'floor' : formatRatio(row.ratios[contender] ?? Number.NaN);
      const value = row.values[contender] ?? Number.NaN;
      return {
        panel,
        title: panelTitle(row),
        rank,
        contender: LABEL[contender],
        value,
        label: ratio === '' ? formatValue(value) : `${formatValue(value)} (${ratio})`,
        colour: barColour(contender),
      };
    }),
  );
  return {
    width: WIDTH,
    padding: 8,
    background: 'white',
    title: { text: title, anchor: 'start', fontSize: 16 },
    data: [{ name: 'bars', values: bars }],
    layout: { columns: 1, padding: 28, bounds: 'flush' },
    marks: [
      {
        type: 'group',
        from: {
          facet: {
            name: 'panel',
            data: 'bars',
            groupby: ['panel', 'title'],
            aggregate: { fields: ['contender'], ops: ['count'], as: ['bars'] },
          },
        },
        sort: { field: 'datum.panel' },
        title: { text: { signal: 'parent.title' }, anchor: 'start', fontSize: 13, fontWeight: 'normal' },
        encode: { update: { width: { signal: 'width' }, height: { signal: `datum.bars * ${BAR_STEP}` } } },
        scales: [
          {
            name: 'contender',
            type: 'band',
            domain: { data: 'panel', field: 'contender', sort: { field: 'rank', op: 'min' } },
            range: { step: BAR_STEP },
            paddingInner: 0.25,
          },
          {
            name: 'value',
            type: 'linear',
            domain: { data: 'panel', field: 'value' },
            range: [0, { signal: `width - ${BAR_LABEL_WIDTH}` }],
            zero: true,
            nice: false,
          },
        ],
        axes: [{ orient: 'left', scale: 'contender', domain: false, ticks: false, labelPadding: 6, labelFontSize: 12 }],
        marks: [
          {
            type: 'rect',
            from: { data: 'panel' },
            encode: {
              enter: {
                x: { scale: 'value', value: 0 },
                x2: { scale: 'value', field: 'value' },
                y: { scale: 'contender', field: 'contender' },
                height: { scale: 'contender', band: 1 },
                fill: { field: 'colour' },
              },
            },
          },
          {
            type: 'text',
            from: { data: 'panel' },
            encode: {
              enter: {
                x: { scale: 'value', field: 'value', offset: 5 },
                y: { scale: 'contender', field: 'contender', band: 0.5 },
                baseline: { value: 'middle' },
                fontSize: { value: 12 },
                text: { field: 'label' },
              },
            },
          },
        ],
      },
    ],
  };
}

function curveSpec(title: string, list: readonly Row[], axis: NonNullable<ReturnType<typeof curveAxis>>): Spec {
  const series = CONTENDERS.filter((contender) => list.some((row) => ran(row).includes(contender)));
  let next = 0;
  const colours = series.map((contender) =>
    contender === FLOOR ? FLOOR_COLOUR : (LINE_COLOURS[next++ % LINE_COLOURS.length] as string),
  );
  const points = list.flatMap((row) =>
    ran(row).map((contender) => ({ x: row.x, y: row.values[contender], series: LABEL[contender] })),
  );
  const first = list[0];
  return {
    width: WIDTH,
    height: CURVE_HEIGHT,
    padding: 8,
    background: 'white',
    title: {
      text: title,
      subtitle: first === undefined ? '' : `${first.unit}, ${first.better} is better`,
      anchor: 'start',
      fontSize: 16,
    },
    data: [{ name: 'points', values: points }],
    scales: [
      axis.scale === 'linear'
        ? { name: 'x', type: 'linear', domain: { data: 'points', field: 'x' }, range: 'width', zero: true, nice: false }
        : { name: 'x', type: 'point', domain: { data: 'points', field: 'x' }, range: 'width', padding: 0.5 },
      { name: 'y', type: 'linear', domain: { data: 'points', field: 'y' }, range: 'height', zero: true, nice: true },
      { name: 'colour', type: 'ordinal', domain: series.map((contender) => LABEL[contender]), range: colours },
    ],
    axes: [
      { orient: 'bottom', scale: 'x', title: axis.title },
      { orient: 'left', scale: 'y', title: first?.unit ?? '', grid: true },
    ],
    // Vega cuts legend labels at 160 px by default, which hides what tells two pollers apart.
    legends: [{ stroke: 'colour', fill: 'colour', orient: 'top-left', symbolType: 'stroke', labelLimit: 320 }],
    marks: [
      {
        type: 'group',
        from: { facet: { name: 'line', data: 'points', groupby: 'series' } },
        marks: [
          {
            type: 'line',
            from: { data: 'line' },
            encode: {
              enter: {
                x: { scale: 'x', field: 'x' },
                y: { scale: 'y', field: 'y' },
                stroke: { scale: 'colour', field: 'series' },
                strokeWidth: { value: 2 },
              },
            },
          },
          {
            type: 'symbol',
            from: { data: 'line' },
            encode: {
              enter: {
                x: { scale: 'x', field: 'x' },
                y: { scale: 'y', field: 'y' },
                fill: { scale: 'colour', field: 'series' },
                size: { value: 24 },
              },
            },
          },
        ],
      },
    ],
  };
}

/** The chart of one workload from its rows (one per metric, or one per point of a curve). */
export async function chart(title: string, list: readonly Row[]): Promise<string> {
  const axis = list[0] === undefined ? undefined : curveAxis(list[0].workload);
  const view = new View(parse(axis === undefined ? barSpec(title, list) : curveSpec(title, list, axis)), {
    renderer: 'none',
  });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
