// Leaflet with the marker-cluster plugin. The plugin is a UMD script that extends the global `L`,
// so `L` has to be on window before it runs: this module is the one place that orders that.
import L from 'leaflet';
import './leaflet-global';
import 'leaflet.markercluster';

export default L;
