// Busks as pins: one marker per busk that has a location, clustered when they crowd together.
import L from './leaflet';
import { el, tagList, viewersText } from './ui';
import type { Busk } from './types';

function pinIcon(): L.DivIcon {
  // The icon holds no text from the busk: the title goes in attributes and the popup, as text.
  return L.divIcon({ className: 'pin', html: el('span', { class: 'pin-dot', 'aria-hidden': 'true' }), iconSize: [28, 28], iconAnchor: [14, 28], popupAnchor: [0, -26] });
}

function popupFor(busk: Busk): HTMLElement {
  return el('div', { class: 'pin-popup' },
    el('strong', {}, busk.title),
    el('div', { class: 'meta' }, `${busk.owner.name} · ${viewersText(busk.viewers)}`),
    tagList(busk.hashtags),
    el('a', { href: `/watch.html?busk=${encodeURIComponent(busk.id)}`, class: 'button' }, 'Watch'),
  );
}

/** A cluster's icon: the count as its only text, a label saying what it is and what it does. */
function clusterIcon(cluster: L.MarkerCluster): L.DivIcon {
  const n = cluster.getChildCount();
  const size = n < 10 ? 'small' : n < 100 ? 'medium' : 'large';
  const label = `${n} live busks here: zoom in`;
  const icon = L.divIcon({ html: el('div', {}, el('span', {}, String(n))), className: `marker-cluster marker-cluster-${size}`, iconSize: L.point(40, 40) });
  const create = icon.createIcon.bind(icon);
  icon.createIcon = (old?: HTMLElement) => {
    const e = create(old);
    e.setAttribute('aria-label', label);
    e.title = label;
    e.dataset.count = String(n);
    return e;
  };
  return icon;
}

export class BuskPins {
  private readonly cluster = L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 45, spiderfyOnMaxZoom: true, iconCreateFunction: clusterIcon });
  private readonly markers = new Map<string, L.Marker>();

  /** `fitZoom`: the closest fitAll() zooms (the offline outline has nothing to show up close). */
  constructor(private readonly map: L.Map, private readonly fitZoom = 15) {
    map.addLayer(this.cluster);
    // Cluster icons are focusable buttons (Leaflet's keyboard markers): Enter or Space zooms in, as a click does.
    this.cluster.on('clusterkeypress', (e) => {
      const ev = (e as L.LeafletKeyboardEvent).originalEvent;
      if (ev.key !== 'Enter' && ev.key !== ' ') return;
      ev.preventDefault();
      const c = (e as unknown as { layer: L.MarkerCluster }).layer;
      if (this.map.getZoom() >= this.map.getMaxZoom()) c.spiderfy(); else c.zoomToBounds({ padding: [40, 40] });
    });
  }

  /** Shows exactly these busks (those with a pin), adding, moving and removing markers as needed. */
  show(busks: Busk[]): void {
    const keep = new Set<string>();
    for (const b of busks) {
      if (!b.location) continue;
      keep.add(b.id);
      const at = L.latLng(b.location.lat, b.location.lng);
      let m = this.markers.get(b.id);
      if (!m) {
        m = L.marker(at, { icon: pinIcon(), title: b.title, alt: `Busk: ${b.title}`, keyboard: true, riseOnHover: true });
        // The cluster adds and removes marker elements as the map moves: tag each one as it appears.
        const id = b.id;
        m.on('add', (e) => (e.target as L.Marker).getElement()?.setAttribute('data-busk', id));
        this.markers.set(b.id, m);
        this.cluster.addLayer(m);
      } else if (!m.getLatLng().equals(at)) {
        m.setLatLng(at);
        this.cluster.refreshClusters(m);
      }
      m.options.title = b.title;
      m.bindPopup(popupFor(b));
    }
    for (const [id, m] of this.markers) {
      if (keep.has(id)) continue;
      this.cluster.removeLayer(m);
      this.markers.delete(id);
    }
  }

  count(): number { return this.markers.size; }

  focus(busk: Busk): void {
    const m = this.markers.get(busk.id);
    if (!m) return;
    this.cluster.zoomToShowLayer(m, () => m.openPopup());
  }

  fitAll(): void {
    if (this.markers.size === 0) return;
    this.map.fitBounds(this.cluster.getBounds().pad(0.3), { maxZoom: this.fitZoom });
  }
}
