/**
 * Volumes as a container gets them. A blueprint's `volumes` take three forms: a named volume
 * (`data:/var/lib/x`), which every instance gets its own of (web-1's `data` is not web-2's, as with
 * a StatefulSet's claims), a bind mount of a host path (`/srv/x:/x[:ro]`), and an anonymous volume
 * (`/x`, gone with its container). Pure: the workflow turns a service's volumes into mounts here.
 */
import type { VolumeSpec } from './blueprint/model';
import { LABEL } from './names';

/** Docker's own rule for volume names. */
const VOLUME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function isVolumeName(name: string): boolean {
  return VOLUME_NAME.test(name);
}

export type VolumeKind = 'named' | 'bind' | 'anonymous';

export function volumeKind(v: VolumeSpec): VolumeKind {
  if (v.source === undefined) return 'anonymous';
  return v.source.startsWith('/') ? 'bind' : 'named';
}

export function isNamedVolume(v: VolumeSpec): boolean {
  return volumeKind(v) === 'named';
}

/** The names of a service's named volumes (what pins its instances to a host). */
export function namedVolumes(volumes: readonly VolumeSpec[]): string[] {
  return volumes.filter(isNamedVolume).map((v) => v.source!);
}

/** The Docker volume of one instance's named volume: `berth-<app>-<instance>-<volume>`. */
export function instanceVolumeName(app: string, instance: string, volume: string): string {
  return `berth-${app}-${instance}-${volume}`;
}

export function volumeLabels(
  app: string,
  service: string,
  instance: string,
  volume: string,
): Record<string, string> {
  return {
    [LABEL.managed]: 'true',
    [LABEL.kind]: 'volume',
    [LABEL.app]: app,
    [LABEL.service]: service,
    [LABEL.instance]: instance,
    [LABEL.volume]: volume,
  };
}

/** One mount of a container (Docker's `HostConfig.Mounts` entry, as plain data). */
export interface Mount {
  type: 'volume' | 'bind';
  /** The volume's name or the host path; absent for an anonymous volume. */
  source?: string;
  target: string;
  readOnly: boolean;
  /** Labels a named volume is created with. */
  labels?: Record<string, string>;
}

/** What an instance mounts: its own named volumes, the bind mounts, fresh anonymous volumes. */
export function mountsFor(
  app: string,
  service: string,
  instance: string,
  volumes: readonly VolumeSpec[],
): Mount[] {
  return volumes.map((v) => {
    switch (volumeKind(v)) {
      case 'named':
        return {
          type: 'volume',
          source: instanceVolumeName(app, instance, v.source!),
          target: v.target,
          readOnly: v.readOnly,
          labels: volumeLabels(app, service, instance, v.source!),
        };
      case 'bind':
        return { type: 'bind', source: v.source, target: v.target, readOnly: v.readOnly };
      case 'anonymous':
        return { type: 'volume', target: v.target, readOnly: v.readOnly };
    }
  });
}
