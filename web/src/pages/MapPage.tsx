import { useEffect, useRef, useState } from 'react';
import cytoscape from 'cytoscape';
import { useApi } from '../useApi';
import { siteHref, siteLabel, siteParam } from '../api';

interface MapData {
  totalPairs: number;
  nodes: Array<{
    id: string;
    role: string;
    name: string | null;
    zone: string | null;
    site?: string;
  }>;
  edges: Array<{
    id: string;
    client: string;
    server: string;
    protocols: string;
    services: number;
    firstService: string;
    packets: number;
    functions?: string[];
  }>;
}

const ROLE_COLOR: Record<string, string> = {
  plc: '#c0392b',
  rtu: '#c0392b',
  hmi: '#2980b9',
  engineering_workstation: '#8e44ad',
  historian: '#16a085',
  scada_server: '#2c3e50',
  bacnet_device: '#d35400',
};

/** Assets as nodes inside their zone, one line per communicating pair labelled by protocol; busiest first. */
export function MapPage({ site = '' }: { site?: string }) {
  const [limit, setLimit] = useState(500);
  const [group, setGroup] = useState(false);
  const { data, error } = useApi<MapData>(
    `/map?limit=${limit}${group ? '&group=true' : ''}${siteParam(site)}`,
  );
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!data || !box.current) return;
    // All sites merged: each site's zones are its own, even where two sites use the same zone name.
    const zoneOf = (n: MapData['nodes'][number]): string | null =>
      n.zone === null ? null : site === '*' && n.site ? `${n.site}/${n.zone}` : n.zone;
    const zones = [...new Set(data.nodes.map(zoneOf).filter((z): z is string => z !== null))];
    const big = data.nodes.length > 300;
    const cy = cytoscape({
      container: box.current,
      elements: [
        ...zones.map((z) => ({ data: { id: `zone:${z}`, label: `zone ${z}` }, classes: 'zone' })),
        ...data.nodes.map((n) => ({
          data: {
            id: n.id,
            label: n.name ?? n.id,
            color: ROLE_COLOR[n.role] ?? '#7f8c8d',
            // A site's node opens that site's asset page (merged ids are site/address).
            href: n.site
              ? siteHref(n.site, 'assets', site === '*' ? n.id.slice(n.site.length + 1) : n.id)
              : `#/assets/${encodeURIComponent(n.id)}`,
            ...(zoneOf(n) ? { parent: `zone:${zoneOf(n)}` } : {}),
          },
        })),
        ...data.edges.map((e) => ({
          data: {
            id: e.id,
            source: e.client,
            target: e.server,
            label: big
              ? ''
              : e.services > 3
                ? `${e.services} ports (scan?)`
                : `${e.protocols}${e.functions?.length ? `: ${e.functions.join(', ').toLowerCase()}` : ` ${e.services > 1 ? `${e.services} services` : e.firstService}`}`,
          },
        })),
      ],
      style: [
        {
          selector: 'node',
          style: {
            label: 'data(label)',
            'background-color': 'data(color)',
            'font-size': 9,
            width: 14,
            height: 14,
          },
        },
        {
          selector: '.zone',
          style: {
            'background-opacity': 0.06,
            'border-width': 1,
            'border-color': '#888',
            'text-valign': 'top',
            'font-size': 12,
          },
        },
        {
          selector: 'edge',
          style: {
            width: 1,
            'line-color': '#aaa',
            'target-arrow-shape': 'triangle',
            'target-arrow-color': '#aaa',
            'curve-style': 'bezier',
            label: 'data(label)',
            'font-size': 7,
            color: '#555',
            'text-rotation': 'autorotate',
            'text-background-color': '#fff',
            'text-background-opacity': 0.8,
            'text-background-padding': '1px',
          },
        },
      ],
      // A small plant should not be blown up to fill the screen: labels stay at reading size.
      maxZoom: 1.6,
      layout: big
        ? { name: 'grid', avoidOverlap: true }
        : {
            name: 'cose',
            animate: false,
            idealEdgeLength: () => 140,
            nodeRepulsion: () => 400_000,
          },
    });
    cy.on('tap', 'node', (ev) => {
      const href = ev.target.data('href') as string | undefined;
      if (href) window.location.hash = href;
    });
    return () => cy.destroy();
  }, [data, site]);
  return (
    <section>
      <h1>Network map{site ? ` at ${siteLabel(site)}` : ''}</h1>
      {error && <p className="error">{error}</p>}
      <label>
        <input type="checkbox" checked={group} onChange={(e) => setGroup(e.target.checked)} /> show
        multicast and broadcast
      </label>
      {data && (
        <p data-testid="map-summary">
          {data.nodes.length} assets, {data.edges.length} of {data.totalPairs} communicating pairs
          (busiest first)
          {data.totalPairs > data.edges.length && (
            <button onClick={() => setLimit(limit * 4)}>show more</button>
          )}
        </p>
      )}
      <div ref={box} className="map" data-testid="map" />
    </section>
  );
}
