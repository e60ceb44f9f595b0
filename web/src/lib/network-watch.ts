// Tells when the phone's network changed under a live show: Wi-Fi to mobile data and back
// (navigator.connection `change`, where the browser has it) or the network coming back (`online`).
// The caller restarts ICE at once instead of waiting for the old path to time out.
export type NetworkChange = 'connection-change' | 'online' | 'offline';

interface ConnectionInfo extends EventTarget { type?: string; effectiveType?: string; saveData?: boolean }

export function connectionInfo(): ConnectionInfo | undefined {
  return (navigator as Navigator & { connection?: ConnectionInfo }).connection;
}

/** Calls `onChange` on every network change until the returned function is called. */
export function watchNetwork(onChange: (why: NetworkChange) => void): () => void {
  const conn = connectionInfo();
  const changed = () => onChange('connection-change');
  const online = () => onChange('online');
  const offline = () => onChange('offline');
  conn?.addEventListener('change', changed);
  window.addEventListener('online', online);
  window.addEventListener('offline', offline);
  return () => {
    conn?.removeEventListener('change', changed);
    window.removeEventListener('online', online);
    window.removeEventListener('offline', offline);
  };
}
