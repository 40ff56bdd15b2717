import type { Command } from 'commander';
import { UserError } from '../../core/errors';
import { checkSensorTarget, parseSensorValue, pushMetric } from '../../clients/policies';
import { loadLocalToken } from '../../adapters/local-token';
import { defaultSensorPort } from '../../adapters/sensor-http';
import { info, printJson, setJsonMode } from '../output';
import { openSession } from '../session';

/** POSTs the value to the loopback sensor endpoint with the local token, as a script would. */
async function postToEndpoint(app: string, service: string, name: string, value: number): Promise<string> {
  const base = `http://127.0.0.1:${defaultSensorPort()}`;
  const url = `${base}/v1/sensors/${[app, service, name].map(encodeURIComponent).join('/')}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { Authorization: `Bearer ${loadLocalToken()}`, 'Content-Type': 'text/plain' },
      body: String(value),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (err) {
    throw new UserError(
      `no sensor endpoint answers at ${base} (${(err as Error).message}); is 'berth server' running?`,
    );
  }
  const body = (await res.json().catch(() => ({}))) as { message?: string; workflowId?: string };
  if (res.status !== 202)
    throw new UserError(`the sensor endpoint answered ${res.status}: ${body.message ?? ''}`);
  return body.workflowId ?? '';
}

/** `berth sensor APP SERVICE NAME VALUE`: a metric value for the service's autoscaler policy. */
export function registerSensor(program: Command): void {
  program
    .command('sensor')
    .description("send a metric value to a service's autoscaler policy (as POST /v1/sensors/... does)")
    .argument('<app>', 'app name')
    .argument('<service>', 'service id')
    .argument('<name>', "metric name (the autoscaler's 'metric', e.g. requests)")
    .argument('<value>', 'a plain decimal number, like 42 or -1.5')
    .option(
      '--http',
      'send it through the sensor endpoint on 127.0.0.1:BERTH_SENSOR_PORT, with the local token',
    )
    .option('--json', 'machine-readable output')
    .action(
      async (
        app: string,
        service: string,
        name: string,
        valueText: string,
        opts: { json?: boolean; http?: boolean },
      ) => {
        setJsonMode(Boolean(opts.json));
        checkSensorTarget(app, service, name);
        const value = parseSensorValue(valueText);
        const workflowId = opts.http
          ? await postToEndpoint(app, service, name, value)
          : (
              await pushMetric((await openSession({ autostart: false })).client, {
                app,
                service,
                name,
                value,
              })
            ).workflowId;
        if (opts.json) return printJson({ app, service, name, value, workflowId });
        info(`sent ${name}=${value} to the autoscaler of ${app}/${service} (${workflowId})`);
      },
    );
}
