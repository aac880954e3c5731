import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useApi } from '../useApi';

interface FlowsData {
  buckets: number[];
  zones: Record<string, { in: number[]; out: number[]; within: number[] }>;
}

/** A short capture fills one bucket: give the lone point empty minutes on each side so the axis reads in minutes. */
function padded(x: number[], ys: number[][]): uPlot.AlignedData {
  if (x.length !== 1) return [x, ...ys];
  return [[x[0]! - 60, x[0]!, x[0]! + 60], ...ys.map((y) => [null, y[0]!, null])];
}

function Chart({ zone, x, s }: { zone: string; x: number[]; s: FlowsData['zones'][string] }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!box.current) return;
    const plot = new uPlot(
      {
        width: Math.min(1200, box.current.clientWidth || 900),
        height: 220,
        title: `zone ${zone}: packets per minute`,
        series: [
          {},
          { label: 'into the zone', stroke: '#2980b9' },
          { label: 'out of the zone', stroke: '#c0392b' },
          { label: 'within', stroke: '#7f8c8d' },
        ],
        axes: [{}, { label: 'packets' }],
      },
      padded(x, [s.in, s.out, s.within]),
      box.current,
    );
    return () => plot.destroy();
  }, [zone, x, s]);
  return <div ref={box} className="chart" data-testid={`flows-${zone}`} />;
}

/** Traffic per zone over time, in and out: the shape of normal, and what changed. */
export function Flows() {
  const { data, error } = useApi<FlowsData>('/flows');
  if (error) return <p className="error">{error}</p>;
  if (!data) return <p className="loading">Loading…</p>;
  const zones = Object.keys(data.zones).sort();
  return (
    <section>
      <h1>Flows per zone</h1>
      {zones.length === 0 ? (
        <p>
          No traffic recorded yet: <code>weir discover --db</code> or{' '}
          <code>weir serve --capture</code> fills this.
        </p>
      ) : (
        zones.map((z) => <Chart key={z} zone={z} x={data.buckets} s={data.zones[z]!} />)
      )}
    </section>
  );
}
