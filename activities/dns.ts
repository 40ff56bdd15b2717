import type Docker from 'dockerode';
import { ApplicationFailure } from '@temporalio/common';
import { UserError } from '../src/core/errors';
import { dnsRecordsFor, type DnsInstance } from '../src/core/dns-names';
import { dockerTarget } from '../src/adapters/docker';
import {
  DnsServerError,
  ensureDnsServer,
  publishRecords,
  removeRecords,
  type DnsServerOptions,
} from '../src/adapters/dns';
import { asActivityFailure } from './docker-errors';
import { Failure } from '../src/core/failures';

export interface DnsActivityDeps {
  docker: Docker;
  /** How the engine is addressed, for error messages. */
  dockerTarget?: string;
  /** The DNS network and subnet (defaults: `berth-dns`, 10.201.255.0/24, or BERTH_DNS_* variables). */
  dns?: DnsServerOptions;
}

/**
 * Bad configuration (a foreign network in the way, no dnsmasq, an overlapping subnet) fails fast;
 * a dnsmasq or file failure is retried like an infrastructure failure; Docker errors are classified
 * as everywhere else (`docker-errors.ts`).
 */
function asDnsFailure(err: unknown, what: string, target: string): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof UserError)
    return ApplicationFailure.nonRetryable(`${what}: ${err.message}`, Failure.DnsConfigInvalid);
  if (err instanceof DnsServerError)
    return ApplicationFailure.retryable(`${what}: ${err.message}`, Failure.DnsServerError);
  return asActivityFailure(err, what, target);
}

/** Berth's DNS server and its records; every activity is idempotent (ensure, replace, remove). */
export function createDnsActivities({
  docker,
  dockerTarget: target = dockerTarget(),
  dns = {},
}: DnsActivityDeps) {
  async function guarded<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw asDnsFailure(err, what, target);
    }
  }

  return {
    /** Starts (or finds) this Berth home's dnsmasq; containers get the address as their `Dns`. */
    async ensureDns(): Promise<{ address: string }> {
      return guarded('ensure the DNS server', async () => {
        const { address } = await ensureDnsServer(docker, dns);
        return { address };
      });
    },

    /** Replaces the app's names: `<instance>.<service>.<app>.berth` and, for ready ones, `<service>.<app>.berth`. Returns the record count. */
    async publishDnsRecords(app: string, instances: DnsInstance[]): Promise<number> {
      return guarded(`publish DNS names of ${app}`, () => {
        const records = dnsRecordsFor(app, instances);
        publishRecords(app, records);
        return records.length;
      });
    },

    /** Removes every name of the app (nothing to remove is fine). */
    async removeDnsRecords(app: string): Promise<void> {
      return guarded(`remove DNS names of ${app}`, () => {
        removeRecords(app);
      });
    },
  };
}
