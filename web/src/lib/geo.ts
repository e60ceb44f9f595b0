// Places and distances. The browser's location is asked for only when the person presses a button
// that says so: never on page load.
import type { LatLng } from './types';

const EARTH_RADIUS_M = 6371008.8;

export function distanceMeters(a: LatLng, b: LatLng): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function formatDistance(m: number): string {
  if (m < 1000) return `${Math.round(m / 10) * 10} m away`;
  if (m < 10000) return `${(m / 1000).toFixed(1)} km away`;
  return `${Math.round(m / 1000).toLocaleString()} km away`;
}

/** Walking directions on OpenStreetMap, from where the viewer is when known. */
export function directionsUrl(to: LatLng, from?: LatLng | null): string {
  const p = (x: LatLng) => `${x.lat.toFixed(6)},${x.lng.toFixed(6)}`;
  const route = from ? `${p(from)};${p(to)}` : `;${p(to)}`;
  return `https://www.openstreetmap.org/directions?engine=fossgis_osrm_foot&route=${encodeURIComponent(route)}`;
}

/** RFC 5870 geo: URI: phones open it in their maps app. */
export function geoUri(to: LatLng): string {
  return `geo:${to.lat.toFixed(6)},${to.lng.toFixed(6)}`;
}

// The last position the person shared on this tab, so the watch page can show a distance without
// asking again after "near me" on the map.
const KEY = 'busking.here';

export function rememberedPosition(): LatLng | null {
  try {
    const v = JSON.parse(sessionStorage.getItem(KEY) ?? 'null') as LatLng | null;
    return v && Number.isFinite(v.lat) && Number.isFinite(v.lng) ? v : null;
  } catch { return null; }
}

export function askPosition(): Promise<LatLng> {
  return new Promise((resolve, reject) => {
    if (!('geolocation' in navigator)) { reject(new Error('this browser cannot tell where you are')); return; }
    navigator.geolocation.getCurrentPosition(
      (p) => {
        const here = { lat: p.coords.latitude, lng: p.coords.longitude, accuracy: Math.round(p.coords.accuracy) };
        try { sessionStorage.setItem(KEY, JSON.stringify(here)); } catch { /* fine */ }
        resolve(here);
      },
      (e) => reject(new Error(e.code === e.PERMISSION_DENIED ? 'location permission was denied' : 'your location is not available')),
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
    );
  });
}
