// The base map under the pins. With a tile server configured (TILE_URL) it is a raster tile layer;
// without one, and whenever tiles cannot load, it is drawn from data this app ships: Natural Earth
// country outlines (world-atlas TopoJSON) and the world's largest cities, so the map works with no
// internet at all.
import L from './leaflet';
import { feature, mesh } from 'topojson-client';
import type { Topology, GeometryCollection } from 'topojson-specification';

export interface BaseMapOptions { tileUrl: string; center?: L.LatLngExpression; zoom?: number }

type City = [name: string, lat: number, lng: number, population: number];

// How many of the largest cities get a label at each zoom level (the list is sorted by size).
function citiesShownAt(zoom: number): number {
  return zoom <= 2 ? 12 : zoom === 3 ? 35 : zoom === 4 ? 90 : zoom === 5 ? 220 : 600;
}

export function createBaseMap(container: HTMLElement, opts: BaseMapOptions): L.Map {
  const map = L.map(container, {
    center: opts.center ?? [30, 10],
    zoom: opts.zoom ?? 2,
    minZoom: 2,
    maxZoom: opts.tileUrl ? 19 : 18, // marker clustering needs one
    worldCopyJump: true,
    preferCanvas: true,
    keyboard: true,
  });
  if (opts.tileUrl) {
    L.tileLayer(opts.tileUrl, { maxZoom: 19, attribution: tileAttribution(opts.tileUrl) }).addTo(map);
  } else {
    container.classList.add('offline-map');
    void addOfflineWorld(map);
  }
  return map;
}

function tileAttribution(url: string): string {
  return /openstreetmap/i.test(url) ? '© OpenStreetMap contributors' : 'Map tiles: configured tile server';
}

async function loadTopology(file: string): Promise<Topology> {
  const res = await fetch(`/assets/${file}`);
  if (!res.ok) throw new Error(`${file}: ${res.status}`);
  return (await res.json()) as Topology;
}

function outlineLayers(topo: Topology, pane: string): L.Layer[] {
  const countries = topo.objects.countries as GeometryCollection;
  const land = feature(topo, topo.objects.land);
  const borders = mesh(topo, countries, (a, b) => a !== b);
  return [
    L.geoJSON(land, { pane, interactive: false, style: { stroke: true, color: '#b9b3a3', weight: 1, fillColor: '#f3efe4', fillOpacity: 1 } }),
    L.geoJSON(borders, { pane, interactive: false, style: { color: '#c9c1ad', weight: 0.8, dashArray: '3 3' } }),
  ];
}

async function addOfflineWorld(map: L.Map): Promise<void> {
  map.attributionControl.addAttribution('Natural Earth · cities: SimpleMaps (CC BY 4.0)');
  map.createPane('world').style.zIndex = '200';
  // Coarse outlines first (100 KB); the finer ones only once someone zooms in to a region.
  let current = outlineLayers(await loadTopology('countries-110m.json'), 'world');
  current.forEach((l) => l.addTo(map));
  let detailed = false;
  const detail = async () => {
    if (detailed || map.getZoom() < 4) return;
    detailed = true;
    const next = outlineLayers(await loadTopology('countries-50m.json'), 'world');
    next.forEach((l) => l.addTo(map));
    current.forEach((l) => l.remove());
    current = next;
  };
  map.on('zoomend', () => void detail());
  void detail(); // the page may have zoomed in (to its pins) while the coarse outlines loaded
  await addCities(map);
}

async function addCities(map: L.Map): Promise<void> {
  const res = await fetch('/assets/cities.json');
  if (!res.ok) return;
  const cities = (await res.json()) as City[];
  const layer = L.layerGroup().addTo(map);
  const draw = () => {
    layer.clearLayers();
    const bounds = map.getBounds().pad(0.2);
    const n = citiesShownAt(map.getZoom());
    for (const [name, lat, lng] of cities.slice(0, n)) {
      if (!bounds.contains([lat, lng])) continue;
      L.circleMarker([lat, lng], { radius: 2.5, color: '#6d675c', weight: 1, fillOpacity: 0.8, interactive: false })
        .bindTooltip(name, { permanent: true, direction: 'right', className: 'city-label', offset: [4, 0] })
        .addTo(layer);
    }
  };
  draw();
  map.on('moveend', draw);
}
