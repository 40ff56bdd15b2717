import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { Client, Connection } from '@temporalio/client';
import { LABEL } from '../../src/core/names';
import { appContainers, appNetworks, docker, execIn, uniqueApp } from '../support/docker';
import { testAddress } from '../support/temporal';
import { ROOT, blueprintCopy, runCli, workerProcessFixture } from '../support/cli';

interface StatusInstance {
  service: string;
  instance: string;
  id: string;
  ip: string;
  state: string;
  ports: { container: number; hostPort: number }[];
}

function httpGet(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
  });
}

/** Every example blueprint, end to end through the CLI: deploy, ready, ports, DNS, scale, destroy. */
describe('every blueprint in blueprints/ deploys and destroys to nothing', () => {
  const secret = `tok-${process.pid}-${Date.now()}`;
  const { env, dir } = workerProcessFixture('blueprints', { BERTH_SECRET_API_TOKEN: secret });

  const files = fs.readdirSync(path.join(ROOT, 'blueprints')).filter((f) => f.endsWith('.yaml'));

  test.each(files)('%s', async (file) => {
    const app = uniqueApp(file.replace(/\.yaml$/, ''));
    const copy = blueprintCopy(`blueprints/${file}`, app, dir);
    // A blueprint that asks for a fixed subnet (web-db, cluster) would clash with an app of
    // another test file that was handed the same /24 from the default pool; the copy asks for one
    // outside that pool instead, still exercising a requested subnet.
    fs.writeFileSync(
      copy,
      fs
        .readFileSync(copy, 'utf8')
        .replace(/^network:.*$/m, `network: 10.206.${(process.pid + files.indexOf(file)) % 250}.0/24`),
    );

    const deployed = await runCli(['deploy', copy, '--json'], env, 300_000);
    expect({ code: deployed.code, stderr: deployed.code === 0 ? '' : deployed.stderr }).toEqual({
      code: 0,
      stderr: '',
    });
    const result = JSON.parse(deployed.stdout);

    const status = await runCli(['status', app, '--json'], env);
    const instances: StatusInstance[] = JSON.parse(status.stdout).apps[0].instances;
    expect(instances.map((i) => i.state)).toEqual(instances.map(() => 'running'));
    expect(instances.map((i) => i.instance).sort()).toEqual(
      result.instances.map((i: { instance: string }) => i.instance).sort(),
    );

    // Forwarded ports answer on the host (httpd serves every example's web port).
    for (const port of instances.flatMap((i) => i.ports)) {
      let code = 0;
      for (let i = 0; i < 50 && code === 0; i++) {
        code = await httpGet(port.hostPort);
        if (code === 0) await new Promise((r) => setTimeout(r, 100));
      }
      if (port.container === 8080) expect(code).toBe(200);
      else expect(code).not.toBe(-1);
    }

    // DNS: from inside another container on the app network (as any Berth container is set up:
    // Berth's DNS server as its resolver), every service name resolves to its instances' addresses.
    // It carries only the app label, so destroy removes it and status does not list it.
    const dnsServer = JSON.parse(
      fs.readFileSync(path.join(process.env.BERTH_HOME!, 'dns', 'server.json'), 'utf8'),
    );
    const probeContainer = await docker.createContainer({
      Image: 'berth/busybox:1',
      Cmd: ['sleep', '300'],
      Labels: { [LABEL.app]: app },
      HostConfig: { NetworkMode: `berth-${app}`, Dns: [dnsServer.address] },
      // The top of the /24, away from the addresses Berth hands out (lowest first).
      NetworkingConfig: {
        EndpointsConfig: {
          [`berth-${app}`]: { IPAMConfig: { IPv4Address: result.subnet.replace(/\.0\/24$/, '.254') } },
        },
      },
    });
    await probeContainer.start();
    const probe = { id: probeContainer.id };
    for (const service of [...new Set(instances.map((i) => i.service))]) {
      const { output } = await execIn(probe.id, ['nslookup', `${service}.${app}.berth`]);
      for (const i of instances.filter((x) => x.service === service)) expect(output).toContain(i.ip);
    }

    if (file === 'dockerfile.yaml') {
      // A blueprint's extra DNS name (`dnsNames`) resolves like the service name.
      const { output } = await execIn(probe.id, ['nslookup', 'greeter.local']);
      expect(output).toContain(instances[0].ip);
    }

    if (file === 'secrets.yaml') {
      // The value reached the container, and appears nowhere in clear in any workflow history.
      const server = instances.find((i) => i.service === 'server')!;
      expect((await execIn(server.id, ['cat', '/www/token'])).output.trim()).toBe(secret);
      const connection = await Connection.connect({ address: testAddress() });
      try {
        const raw = new Client({ connection }); // no codec: what the server stores
        for (const id of [`berth-app-${app}`, result.workflowId]) {
          const history = await raw.workflow.getHandle(id).fetchHistory();
          expect(JSON.stringify(history)).not.toContain(secret);
          expect(Buffer.from(JSON.stringify(history)).toString('base64')).not.toContain(
            Buffer.from(secret).toString('base64'),
          );
        }
      } finally {
        await connection.close();
      }
    }

    // Scale the first service by one and back (down first when it has room: placement may cap it).
    const first = instances[0].service;
    const count = instances.filter((i) => i.service === first).length;
    for (const n of count > 1 ? [count - 1, count] : [count + 1, count]) {
      const scaled = await runCli(['scale', app, first, String(n), '--json'], env);
      expect({ code: scaled.code, stderr: scaled.code === 0 ? '' : scaled.stderr }).toEqual({
        code: 0,
        stderr: '',
      });
      expect((await appContainers(app)).filter((c) => c.Labels[LABEL.service] === first)).toHaveLength(n);
    }

    expect((await runCli(['destroy', app, '--json'], env)).code).toBe(0);
    expect(await appContainers(app)).toHaveLength(0);
    expect(await appNetworks(app)).toHaveLength(0);
    expect(fs.existsSync(path.join(process.env.BERTH_HOME!, 'dns', 'hosts', app))).toBe(false);
  });
});
