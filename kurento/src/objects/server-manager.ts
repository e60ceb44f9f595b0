// kurento.ServerManager ("manager_ServerManager"): what the server holds and how busy it is.
// kurento-client describes it on connect and checks that getInfo() lists the modules
// `core`, `elements` and `filters`.
import os from 'node:os';
import { KurentoError } from '../protocol/errors';
import { complexType } from './complex-types';
import { MediaObject, MEDIA_OBJECT_EVENTS, type ObjectHost, type ObjectKind, type Operation } from './media-object';

export const SERVER_MANAGER_ID = 'manager_ServerManager';

export const SERVER_MANAGER_KIND: ObjectKind = {
  type: 'ServerManager',
  hierarchy: ['kurento.MediaObject'],
  events: [...MEDIA_OBJECT_EVENTS, 'ObjectCreated', 'ObjectDestroyed'],
};

/** The KMS version this engine speaks the protocol of (kurento-client 7.2.0's server). */
export const KMS_VERSION = '7.2.0';

export interface ServerManagerSource {
  pipelines(): MediaObject[];
  sessions(): string[];
  /** Factories per module, as getInfo lists them. */
  modules: Record<'core' | 'elements' | 'filters', readonly string[]>;
  metadata: string;
}

export class ServerManager extends MediaObject {
  private readonly startedAt = new Date().toISOString();

  constructor(host: ObjectHost, private readonly source: ServerManagerSource) {
    super(host, SERVER_MANAGER_KIND, null, SERVER_MANAGER_ID);
  }

  objectCreated(object: MediaObject): void {
    this.raise('ObjectCreated', { object: object.id }, false);
  }

  objectDestroyed(objectId: string): void {
    this.raise('ObjectDestroyed', { objectId }, false);
  }

  /** The ServerManager lives as long as the server: `release` on it does nothing, as in KMS. */
  release(): void {}

  protected operations(): Record<string, Operation> {
    return {
      ...super.operations(),
      getInfo: () => complexType('ServerInfo', {
        version: KMS_VERSION,
        modules: Object.entries(this.source.modules).map(([name, factories]) => complexType('ModuleInfo', {
          version: KMS_VERSION,
          name,
          generationTime: this.startedAt,
          factories: [...factories],
        })),
        type: 'KMS',
        capabilities: ['transactions'],
      }),
      getPipelines: () => this.source.pipelines().map((p) => p.id),
      getSessions: () => this.source.sessions(),
      getMetadata: () => this.source.metadata,
      getKmd: () => { throw new KurentoError('SERVER_MANAGER_ERROR_KMD_NOT_FOUND', "Requested kmd module doesn't exist"); },
      getCpuCount: () => os.cpus().length,
      getUsedCpu: (p) => usedCpu(p.optInt('interval') ?? 1000),
      getUsedMemory: () => residentKiB(),
    };
  }
}

/** Percentage of all cores this process used over `intervalMs` (KMS samples the same way: wait, compare). */
async function usedCpu(intervalMs: number): Promise<number> {
  const ms = Math.max(1, Math.min(intervalMs, 10000));
  const start = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await new Promise((r) => setTimeout(r, ms));
  const used = process.cpuUsage(start);
  const elapsedUs = Number(process.hrtime.bigint() - t0) / 1000;
  return ((used.user + used.system) / elapsedUs / os.cpus().length) * 100;
}

/** Resident memory in KiB, KMS's unit for getUsedMemory (it reads VmRSS). */
function residentKiB(): number {
  return Math.round(process.memoryUsage().rss / 1024);
}
