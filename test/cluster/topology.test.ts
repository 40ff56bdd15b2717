/**
 * The cluster `berth cluster up` made for this run has the real topology: PostgreSQL as its own
 * user with the default and visibility stores, the four Temporal services as four processes, the
 * namespace with Berth's search attributes, the Web UI with Berth's codec server as its codec
 * endpoint. A second `up` starts nothing.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { pgBinDir, psql } from '../../src/runtime/cluster/postgres';
import { pgOf } from '../../src/runtime/cluster';
import { clusterLayout } from '../../src/runtime/cluster/layout';
import { clusterAddress, clusterCli, clusterEnv } from './support/cluster';

interface Row {
  component: string;
  pid?: number;
  running: boolean;
  port: number;
}

const argv = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
const uid = (pid: number) =>
  Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

describe('berth cluster up: a real Temporal cluster on PostgreSQL', () => {
  const layout = clusterLayout(clusterEnv());
  let rows: Row[] = [];

  beforeAll(async () => {
    const status = await clusterCli(['status', '--json']);
    expect(status.code).toBe(0);
    rows = JSON.parse(status.stdout).components;
  });

  test('every component runs as its own process; the Temporal services are four processes', () => {
    expect(rows.map((r) => `${r.component}:${r.running}`)).toEqual(
      ['postgres', 'history', 'matching', 'frontend', 'worker', 'codec', 'ui'].map((c) => `${c}:true`),
    );
    expect(new Set(rows.map((r) => r.pid)).size).toBe(rows.length);
    for (const service of ['frontend', 'history', 'matching', 'worker']) {
      const pid = rows.find((r) => r.component === service)!.pid!;
      expect(argv(pid)).toContain(`--service=${service}`);
      expect(path.basename(argv(pid)[0])).toMatch(/^temporal-server-1\.29\.1$/);
    }
  });

  test('PostgreSQL runs as its own user from the Berth home, with both Temporal stores', async () => {
    const pid = rows.find((r) => r.component === 'postgres')!.pid!;
    expect(uid(pid)).not.toBe(0);
    expect(argv(pid).join(' ')).toContain(path.join(layout.pgDir, 'data'));
    const bin = pgBinDir()!;
    const pg = pgOf(layout);
    const dbs = await psql(
      bin,
      pg,
      "SELECT datname FROM pg_database WHERE datname LIKE 'temporal%' ORDER BY 1;",
    );
    expect(dbs.trim().split('\n')).toEqual(['temporal', 'temporal_visibility']);
    // Advanced visibility: the executions_visibility table with its predefined custom-attribute columns.
    const columns = await psql(
      bin,
      pg,
      "SELECT count(*) FROM information_schema.columns WHERE table_name = 'executions_visibility' AND column_name LIKE 'keyword%';",
      'temporal_visibility',
    );
    expect(Number(columns.trim())).toBeGreaterThanOrEqual(3);
  });

  test("the namespace has Berth's search attributes as keywords", async () => {
    const connection = await Connection.connect({ address: clusterAddress() });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: 'default',
      });
      const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
      expect(customAttributes).toMatchObject({
        BerthApp: keyword,
        BerthOperation: keyword,
        BerthStatus: keyword,
      });
    } finally {
      await connection.close();
    }
  });

  test('the Web UI serves the cluster with the codec server as its codec endpoint, which opens sealed payloads', async () => {
    const settings = (await (await fetch(`http://127.0.0.1:${layout.ports.ui}/api/v1/settings`)).json()) as {
      Codec: { Endpoint: string };
      DefaultNamespace: string;
    };
    expect(settings.Codec.Endpoint).toBe(`http://localhost:${layout.ports.codec}`);
    expect((await fetch(`http://127.0.0.1:${layout.ports.ui}/`)).status).toBe(200);
    const codec = `http://127.0.0.1:${layout.ports.codec}`;
    const plain = {
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: Buffer.from('"hello"').toString('base64'),
    };
    const post = async (route: string, body: unknown) =>
      (await (
        await fetch(`${codec}${route}`, {
          method: 'POST',
          // As the UI's pages call it (the local codec server answers its origin, or the local token).
          headers: { 'Content-Type': 'application/json', Origin: `http://localhost:${layout.ports.ui}` },
          body: JSON.stringify(body),
        })
      ).json()) as { payloads: (typeof plain)[] };
    const sealed = await post('/encode', { payloads: [plain] });
    expect(sealed.payloads[0].data).not.toBe(plain.data);
    expect((await post('/decode', sealed)).payloads[0].data).toBe(plain.data);
  });

  test('a second up finds everything running and starts nothing', async () => {
    const again = await clusterCli(['up', '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ address: clusterAddress(), started: [] });
  });
});
