import * as dgram from 'dgram';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { createDnsActivities } from '../../activities/dns';
import {
  dnsPaths,
  ensureDnsServer,
  isOurDnsmasq,
  publishRecords,
  stopDnsServer,
} from '../../src/adapters/dns';
import { dnsRecordsFor } from '../../src/core/dns-names';
import { allocateSubnet, assignAddress, gatewayOf } from '../../src/core/ipam';
import { LABEL, containerName, networkName } from '../../src/core/names';
import { TEST_APP_PREFIX, appContainers, appNetworks, docker, uniqueApp } from '../support/docker';

/**
 * Berth's DNS server for real: dnsmasq on the host, on the gateway of a test-only network
 * (10.209.254.0/24, never the user's berth-dns), busybox containers on an app network asking it
 * through Docker's embedded DNS. Everything started here is stopped in afterAll, even on failure.
 */
const DNS_SUBNET = '10.209.254.0/24';
const DNS_NETWORK = `berth-dns-${TEST_APP_PREFIX.replace(/-$/, '')}`;
const dnsOptions = { network: DNS_NETWORK, subnet: DNS_SUBNET };
const IMAGE = 'berth/busybox:1';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function exec(id: string, cmd: string[]): Promise<{ code: number; output: string }> {
  const e = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await e.start({ hijack: true, stdin: false });
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve) => {
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });
  // Multiplexed frames: 8-byte headers (stream, 0, 0, 0, size32) before each payload.
  const raw = Buffer.concat(chunks);
  let output = '';
  for (let at = 0; at + 8 <= raw.length;) {
    const size = raw.readUInt32BE(at + 4);
    output += raw.subarray(at + 8, at + 8 + size).toString('utf8');
    at += 8 + size;
  }
  return { code: (await e.inspect()).ExitCode ?? -1, output };
}

/** The addresses busybox nslookup prints for `name` (empty when it does not resolve). */
async function lookup(container: string, name: string): Promise<string[]> {
  const { output } = await exec(container, ['nslookup', name]);
  const found = new Set<string>();
  for (const m of output.matchAll(/Name:\s*(\S+)\s*\nAddress:\s*(\d+\.\d+\.\d+\.\d+)/g))
    if (m[1] === name) found.add(m[2]);
  return [...found].sort();
}

/** Polls (50 × 100 ms at most) until `name` resolves to exactly `expected` ([] = does not resolve). */
async function eventually(container: string, name: string, expected: string[]): Promise<string[]> {
  const want = [...expected].sort();
  let got: string[] = [];
  for (let i = 0; i < 50; i++) {
    got = await lookup(container, name);
    if (JSON.stringify(got) === JSON.stringify(want)) return got;
    await sleep(100);
  }
  return got;
}

/** One A query straight to dnsmasq from the host (its own address): rcode and answer count. */
function queryA(
  server: string,
  name: string,
  timeoutMs = 200,
): Promise<{ rcode: number; answers: number } | undefined> {
  const header = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const packet = Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const done = (v: { rcode: number; answers: number } | undefined) => {
      clearTimeout(timer);
      socket.close();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on('message', (m) => done({ rcode: m[3] & 0x0f, answers: m.readUInt16BE(6) }));
    socket.on('error', () => done(undefined));
    socket.send(packet, 53, server);
  });
}

async function freeAppSubnet(): Promise<string> {
  const networks = await docker.listNetworks();
  const taken = networks.flatMap((n) =>
    (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => !!s && s.includes('.')),
  );
  // Away from the low end of the default pool, where concurrent Berth runs allocate first.
  return allocateSubnet('10.201.240.0/20', 24, taken, undefined, [DNS_SUBNET]);
}

describe("Berth's DNS server (dnsmasq on the host, one hosts file per app)", () => {
  const previousHome = process.env.BERTH_HOME;
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-dns-test-'));
  const app = uniqueApp('dns');
  const activities = createDnsActivities({ docker, dns: dnsOptions });
  let pid = 0;
  let address = '';
  const ids: Record<string, string> = {};
  const ips: Record<string, string> = {};

  beforeAll(() => {
    process.env.BERTH_HOME = home;
  });

  afterAll(async () => {
    try {
      await stopDnsServer(docker, { network: DNS_NETWORK });
    } finally {
      // Whatever happened above, nothing may survive the test: the process by its PID, then Docker objects by label.
      if (pid && isOurDnsmasq(pid, dnsPaths(home).hostsDir)) process.kill(pid, 'SIGKILL');
      for (const c of await appContainers(app))
        await docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined);
      for (const n of await appNetworks(app))
        await docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => undefined);
      const dnsNets = await docker.listNetworks({ filters: { name: [DNS_NETWORK] } });
      for (const n of dnsNets.filter((x) => x.Name === DNS_NETWORK))
        await docker
          .getNetwork(n.Id)
          .remove()
          .catch(() => undefined);
      if (previousHome === undefined) delete process.env.BERTH_HOME;
      else process.env.BERTH_HOME = previousHome;
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  test('ensureDnsServer starts one dnsmasq per Berth home, on its network gateway, and reuses it', async () => {
    const first = await ensureDnsServer(docker, dnsOptions);
    pid = first.pid;
    address = first.address;
    expect(first).toMatchObject({
      address: '10.209.254.1',
      network: DNS_NETWORK,
      subnet: DNS_SUBNET,
      started: true,
    });
    const p = dnsPaths();
    expect(p.dir).toBe(path.join(home, 'dns'));
    expect(Number(fs.readFileSync(p.pidFile, 'utf8'))).toBe(pid);
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    expect(argv).toEqual(
      expect.arrayContaining([
        '--listen-address=10.209.254.1',
        '--no-resolv',
        '--local=/berth/',
        '--conf-file=/dev/null',
        `--hostsdir=${p.hostsDir}`,
      ]),
    );
    const net = await docker.getNetwork(DNS_NETWORK).inspect();
    expect(net.Labels).toMatchObject({ [LABEL.managed]: 'true', [LABEL.kind]: 'dns' });
    expect(net.IPAM?.Config?.[0]).toMatchObject({ Subnet: DNS_SUBNET, Gateway: '10.209.254.1' });

    const again = await ensureDnsServer(docker, dnsOptions);
    expect(again).toMatchObject({ pid, address, started: false });
    // A lost pid file is not a second server: /proc is scanned for ours.
    fs.rmSync(p.pidFile);
    expect(await activities.ensureDns()).toEqual({ address });
    expect(Number(fs.readFileSync(p.pidFile, 'utf8'))).toBe(pid);
    // Nothing but *.berth is answered, and nothing is forwarded.
    expect(await queryA(address, 'example.com')).toEqual({ rcode: 5, answers: 0 }); // REFUSED
    expect(await queryA(address, `nothing.${app}.berth`)).toEqual({ rcode: 3, answers: 0 }); // NXDOMAIN
  });

  test('containers on an app network resolve <service>.<app>.berth and <instance>.<service>.<app>.berth', async () => {
    expect(address).toBe('10.209.254.1');
    const subnet = await freeAppSubnet();
    const network = networkName(app);
    await docker.createNetwork({
      Name: network,
      Driver: 'bridge',
      CheckDuplicate: true,
      IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: gatewayOf(subnet) }] },
      Labels: { [LABEL.managed]: 'true', [LABEL.app]: app, [LABEL.kind]: 'network' },
    });
    for (const instance of ['web-1', 'web-2']) {
      ips[instance] = assignAddress(subnet, Object.values(ips));
      const c = await docker.createContainer({
        name: containerName(app, instance),
        Image: IMAGE,
        Cmd: ['sleep', '300'],
        Hostname: instance,
        Labels: {
          [LABEL.managed]: 'true',
          [LABEL.app]: app,
          [LABEL.service]: 'web',
          [LABEL.instance]: instance,
        },
        HostConfig: { NetworkMode: network, Dns: [address] },
        NetworkingConfig: { EndpointsConfig: { [network]: { IPAMConfig: { IPv4Address: ips[instance] } } } },
      });
      await c.start();
      ids[instance] = c.id;
    }
    expect(ips).toEqual({
      'web-1': `${subnet.split('.').slice(0, 3).join('.')}.2`,
      'web-2': `${subnet.split('.').slice(0, 3).join('.')}.3`,
    });
    const client = ids['web-2'];
    const instances = ['web-1', 'web-2'].map((instance) => ({
      service: 'web',
      instance,
      address: ips[instance],
      ready: true,
    }));

    // How long until a new name answers: straight from dnsmasq, then through a container.
    const t0 = performance.now();
    expect(await activities.publishDnsRecords(app, instances)).toBe(4);
    let answered: { rcode: number; answers: number } | undefined;
    for (let i = 0; i < 200 && !answered?.answers; i++) answered = await queryA(address, `web.${app}.berth`);
    const direct = performance.now() - t0;
    expect(answered).toEqual({ rcode: 0, answers: 2 });
    const viaContainer = performance.now();
    expect(await eventually(client, `web.${app}.berth`, [ips['web-1'], ips['web-2']])).toEqual(
      [ips['web-1'], ips['web-2']].sort(),
    );
    const container = performance.now() - viaContainer;
    expect(await eventually(client, `web-1.web.${app}.berth`, [ips['web-1']])).toEqual([ips['web-1']]);
    expect(await eventually(ids['web-1'], `web-2.web.${app}.berth`, [ips['web-2']])).toEqual([ips['web-2']]);
    // Docker's embedded DNS still answers container names itself.
    expect(await lookup(client, containerName(app, 'web-1'))).toEqual([ips['web-1']]);

    // A name added later, with an in-container loop already querying (end-to-end upper bound).
    const probe = exec(client, [
      'sh',
      '-c',
      `i=0; while [ $i -lt 400 ]; do nslookup web-3.web.${app}.berth >/dev/null 2>&1 && { echo found $i; exit 0; }; i=$((i+1)); usleep 5000; done; echo none; exit 1`,
    ]);
    await sleep(300);
    const t1 = performance.now();
    await activities.publishDnsRecords(app, [
      ...instances,
      { service: 'web', instance: 'web-3', address: ips['web-2'], ready: false },
    ]);
    const probed = await probe;
    const endToEnd = performance.now() - t1;
    expect(probed.output).toMatch(/found \d+/);
    console.log(
      `DNS latency after publishRecords: dnsmasq ${direct.toFixed(1)} ms; container nslookup ${container.toFixed(0)} ms (one exec); in-container loop saw a new name within ${endToEnd.toFixed(0)} ms`,
    );

    // web-2 no longer ready: the service name drops it, the instance name stays.
    await activities.publishDnsRecords(app, [instances[0], { ...instances[1], ready: false }]);
    expect(await eventually(client, `web.${app}.berth`, [ips['web-1']])).toEqual([ips['web-1']]);
    expect(await lookup(client, `web-2.web.${app}.berth`)).toEqual([ips['web-2']]);
    expect(await lookup(client, `web-3.web.${app}.berth`)).toEqual([]);

    // Identical records: the file is left alone.
    expect(
      publishRecords(app, dnsRecordsFor(app, [instances[0], { ...instances[1], ready: false }])).changed,
    ).toBe(false);

    await activities.removeDnsRecords(app);
    await activities.removeDnsRecords(app); // idempotent
    expect(await eventually(client, `web.${app}.berth`, [])).toEqual([]);
    expect(await lookup(client, `web-1.web.${app}.berth`)).toEqual([]);
  });

  test('the network removed behind its back is re-created and dnsmasq binds again by itself', async () => {
    expect(ids['web-1']).toBeDefined();
    // (No query while it is gone: the address would then route off the machine.)
    await docker.getNetwork(DNS_NETWORK).remove();
    const again = await ensureDnsServer(docker, dnsOptions);
    expect(again).toMatchObject({ pid, address, started: false });
    await activities.publishDnsRecords(app, [
      { service: 'web', instance: 'web-1', address: ips['web-1'], ready: true },
    ]);
    expect(await eventually(ids['web-2'], `web.${app}.berth`, [ips['web-1']])).toEqual([ips['web-1']]);
  });

  test('stopDnsServer kills the recorded PID only and removes the network; a second stop is a no-op', async () => {
    expect(pid).toBeGreaterThan(1);
    const stopped = await stopDnsServer(docker, { network: DNS_NETWORK });
    expect(stopped).toEqual({ stopped: pid, networkRemoved: true });
    expect(isOurDnsmasq(pid, dnsPaths().hostsDir)).toBe(false);
    const cmdline = fs.existsSync(`/proc/${pid}/cmdline`)
      ? fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      : '';
    expect(cmdline).not.toContain(dnsPaths().hostsDir); // gone, or a zombie with no command line
    expect(
      (await docker.listNetworks({ filters: { name: [DNS_NETWORK] } })).filter((n) => n.Name === DNS_NETWORK),
    ).toEqual([]);
    expect(fs.existsSync(dnsPaths().pidFile)).toBe(false);
    expect(await stopDnsServer(docker, { network: DNS_NETWORK })).toEqual({
      stopped: undefined,
      networkRemoved: false,
    });
  });
});
