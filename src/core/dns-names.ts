import { UserError } from './errors';
import { instanceDnsName, isDnsLabel, serviceDnsName } from './names';

/** What the DNS server needs to know about one instance. */
export interface DnsInstance {
  service: string;
  instance: string;
  address: string;
  /** Only ready instances are behind the service name; every instance keeps its own name. */
  ready: boolean;
  /** The service's extra names (a blueprint's `dnsNames`), served like the service name. */
  aliases?: string[];
}

export interface DnsRecord {
  name: string;
  address: string;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * The A records of an app, sorted (so the same instances always give the same file):
 * `<instance>.<service>.<app>.berth` → that instance, whether ready or not (it names a container),
 * and `<service>.<app>.berth` → every ready instance's address (several A records, which resolvers
 * rotate). A service with no ready instance has no service name, so clients fail fast.
 */
export function dnsRecordsFor(app: string, instances: DnsInstance[]): DnsRecord[] {
  if (!isDnsLabel(app)) throw new UserError(`app '${app}' is not a DNS label`);
  const records = new Map<string, DnsRecord>();
  const add = (name: string, address: string) => records.set(`${name} ${address}`, { name, address });
  for (const i of instances) {
    if (!isDnsLabel(i.service) || !isDnsLabel(i.instance)) {
      throw new UserError(
        `service '${i.service}' / instance '${i.instance}' of app '${app}' is not a DNS label`,
      );
    }
    if (!IPV4.test(i.address))
      throw new UserError(`instance '${i.instance}' has no valid IPv4 address ('${i.address}')`);
    add(instanceDnsName(app, i.service, i.instance), i.address);
    if (i.ready) add(serviceDnsName(app, i.service), i.address);
    if (i.ready) for (const alias of i.aliases ?? []) add(alias, i.address);
  }
  return [...records.values()].sort((a, b) =>
    a.name === b.name ? compareAddresses(a.address, b.address) : a.name < b.name ? -1 : 1,
  );
}

function compareAddresses(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

/** The records as a hosts file (one `address name` line each), what dnsmasq's --hostsdir reads. */
export function hostsFileOf(records: DnsRecord[]): string {
  return records.map((r) => `${r.address} ${r.name}\n`).join('');
}
