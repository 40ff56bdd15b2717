/**
 * A Berth container as the Docker API's create request: its name, labels, ports (forwarded on
 * `publishOn`), network with its fixed address and aliases, DNS, restart policy and limits.
 */
import type Docker from 'dockerode';
import { LABEL, containerName } from '../core/names';
import type { ContainerSpec } from '../../workflows/api/containers';
import type { Mount } from '../core/volumes';

export function containerCreateOptions(
  spec: ContainerSpec,
  publishOn: string,
): Docker.ContainerCreateOptions {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const port of spec.ports) {
    const key = `${port.container}/${port.protocol}`;
    exposed[key] = {};
    if (port.host !== undefined)
      bindings[key] = [{ HostIp: publishOn, HostPort: port.host === 0 ? '' : String(port.host) }];
  }
  return {
    name: spec.name ?? containerName(spec.app, spec.instance),
    Image: spec.image,
    Cmd: spec.command,
    Hostname: spec.instance,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    ExposedPorts: exposed,
    ...(spec.stopSignal ? { StopSignal: spec.stopSignal } : {}),
    ...(spec.stopGracePeriodMs !== undefined
      ? { StopTimeout: Math.ceil(spec.stopGracePeriodMs / 1000) }
      : {}),
    Labels: {
      [LABEL.managed]: 'true',
      [LABEL.app]: spec.app,
      [LABEL.service]: spec.service,
      [LABEL.instance]: spec.instance,
      [LABEL.kind]: 'container',
      ...(spec.configHash ? { [LABEL.config]: spec.configHash } : {}),
      ...(spec.resolvedHash ? { [LABEL.resolved]: spec.resolvedHash } : {}),
    },
    HostConfig: {
      PortBindings: bindings,
      // Mounts, not Binds: a missing bind source fails the create instead of appearing as an empty directory.
      ...(spec.mounts?.length ? { Mounts: spec.mounts.map(dockerMount) } : {}),
      NetworkMode: spec.network,
      ...(spec.dns?.length ? { Dns: spec.dns } : {}),
      ...(spec.restart && spec.restart !== 'no' ? { RestartPolicy: { Name: spec.restart } } : {}),
      ...(spec.cpus ? { NanoCpus: Math.round(spec.cpus * 1e9) } : {}),
      ...(spec.memoryBytes ? { Memory: spec.memoryBytes } : {}),
    },
    NetworkingConfig: {
      EndpointsConfig: {
        [spec.network]: {
          Aliases: spec.aliases,
          ...(spec.ip ? { IPAMConfig: { IPv4Address: spec.ip } } : {}),
        },
      },
    },
  };
}

/** A mount as Docker's API takes it; a named volume that does not exist yet is created with its labels. */
function dockerMount(m: Mount): Docker.MountSettings {
  return {
    Type: m.type,
    Target: m.target,
    ReadOnly: m.readOnly,
    ...(m.source !== undefined ? { Source: m.source } : {}),
    ...(m.labels ? { VolumeOptions: { Labels: m.labels } } : {}),
  } as Docker.MountSettings;
}
