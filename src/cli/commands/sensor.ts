import type { Command } from 'commander';
import { parseSensorValue, pushMetric } from '../../clients/policies';
import { info, printJson, setJsonMode } from '../output';
import { openSession } from '../session';

/** `berth sensor APP SERVICE NAME VALUE`: a metric value for the service's autoscaler policy. */
export function registerSensor(program: Command): void {
  program
    .command('sensor')
    .description("send a metric value to a service's autoscaler policy (as POST /v1/sensors/... does)")
    .argument('<app>', 'app name')
    .argument('<service>', 'service id')
    .argument('<name>', "metric name (the autoscaler's 'metric', e.g. requests)")
    .argument('<value>', 'a number')
    .option('--json', 'machine-readable output')
    .action(
      async (app: string, service: string, name: string, valueText: string, opts: { json?: boolean }) => {
        setJsonMode(Boolean(opts.json));
        const value = parseSensorValue(valueText);
        const session = await openSession({ autostart: false });
        const { workflowId } = await pushMetric(session.client, { app, service, name, value });
        if (opts.json) return printJson({ app, service, name, value, workflowId });
        info(`sent ${name}=${value} to the autoscaler of ${app}/${service} (${workflowId})`);
      },
    );
}
