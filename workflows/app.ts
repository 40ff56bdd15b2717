import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { Blueprint } from '../src/core/blueprint/model';
import { failureChain, messageOf } from '../src/core/failures';
import { replicasFor } from '../src/core/diff';
import { canonicalJson } from '../src/core/hash';
import { operationWorkflowId } from '../src/core/names';
import {
  appStateQuery,
  hostsLostSignal,
  operateUpdate,
  retryUpdate,
  type AppInput,
  type AppState,
  type AppVersion,
  type OperationRecord,
} from './api/app';
import {
  ROLLED_BACK,
  type OperationInput,
  type OperationRequest,
  type OperationResult,
} from './api/operations';
import { BERTH_APP, BERTH_OPERATION, BERTH_STATUS } from './api/search-attributes';
import { nowMs } from './policies/common';
import { ensurePolicies, stopPolicies } from './policies/app-hooks';

/**
 * One entity workflow per app (`berth-app-<app>`): it holds the desired state, what runs and the
 * app's versions, and runs operations one at a time as child workflows, so deploy, scale, heal,
 * rollback and destroy of one app never interleave.
 */

const KEEP_REQUESTS = 10;
const KEEP_RECORDS = 50;
/** Applied blueprints kept for `berth rollback --to N` (Kubernetes' `revisionHistoryLimit`). */
export const KEEP_VERSIONS = 10;

export async function app(input: AppInput): Promise<AppState> {
  const state: AppState = input.state ?? {
    app: input.app,
    phase: 'new',
    replicas: {},
    addresses: {},
    instances: [],
    seq: 0,
    operations: [],
  };
  // An app deployed before versions were kept: what runs is its first version.
  if (state.blueprint && !state.versions) {
    const last = [...state.operations].reverse().find((o) => o.type === 'deploy' && o.status === 'completed');
    state.versions = [
      { version: 1, blueprint: state.blueprint, appliedAtMs: nowMs(), operationId: last?.id ?? '' },
    ];
    state.version = 1;
  }

  const enqueue = async (request: OperationRequest): Promise<{ operationId: string }> => {
    state.seq++;
    const record: OperationRecord = {
      id: operationWorkflowId(request.type, state.app, state.seq),
      type: request.type,
      status: 'queued',
      request,
      queuedAtMs: nowMs(),
      ...(request.requestedBy ? { requestedBy: request.requestedBy } : {}),
    };
    state.operations.push(record);
    trim(state.operations);
    await condition(() => record.started === true || record.status === 'failed');
    return { operationId: record.id };
  };

  setHandler(appStateQuery, () => {
    const { secrets: _secrets, ...visible } = state;
    return visible;
  });
  setHandler(operateUpdate, enqueue, { validator: (request) => validate(state, request) });
  setHandler(
    retryUpdate,
    ({ operationId }) => {
      const record = state.operations.find((o) => o.id === operationId)!;
      return enqueue(record.request!);
    },
    {
      validator: ({ operationId }) => {
        const record = state.operations.find((o) => o.id === operationId);
        if (!record)
          throw new Error(`operation ${operationId} is not one of app '${state.app}' (or too old to retry)`);
        if (record.status !== 'failed' && record.status !== 'cancelled')
          throw new Error(
            `operation ${operationId} is ${record.status}: only a failed operation can be retried`,
          );
        if (!record.request) throw new Error(`operation ${operationId} is too old to retry`);
        if (state.phase === 'destroyed') throw new Error(`app '${state.app}' has been destroyed`);
      },
    },
  );

  // Hosts this app used have failed or are draining: queue one heal, which places the lost
  // instances on the remaining hosts (with the options of the app's last operation).
  setHandler(hostsLostSignal, () => {
    if (state.phase !== 'running') return;
    if (state.operations.some((o) => o.type === 'heal' && o.status === 'queued')) return;
    const options = [...state.operations].reverse().find((o) => o.request?.options)?.request?.options;
    void enqueue({ type: 'heal', ...(options ? { options } : {}) });
  });

  while (state.phase !== 'destroyed') {
    await condition(
      () => state.operations.some((o) => o.status === 'queued') || workflowInfo().continueAsNewSuggested,
    );
    const record = state.operations.find((o) => o.status === 'queued');
    if (!record) break;
    await runOperation(state, record);
  }
  await condition(allHandlersFinished);
  if (state.phase !== 'destroyed') await continueAsNew<typeof app>({ app: state.app, state });
  return state;
}

/** Runs one queued operation as a child workflow and records what it did. */
async function runOperation(state: AppState, record: OperationRecord): Promise<void> {
  record.status = 'running';
  record.startedAtMs = nowMs();
  // A destroy stops the app's policies first, so none reacts to containers going away.
  if (record.type === 'destroy') await stopPolicies(state);
  const input = operationInput(state, record.request!);
  if (input.version !== undefined) record.version = input.version;
  try {
    const child = await startChild(record.type, {
      workflowId: record.id,
      args: [input],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      typedSearchAttributes: [
        { key: BERTH_APP, value: state.app },
        { key: BERTH_OPERATION, value: record.type },
        { key: BERTH_STATUS, value: 'running' },
      ],
    });
    record.started = true;
    apply(state, record, input, await child.result());
    record.status = 'completed';
  } catch (err) {
    record.status = failureChain(err).some(isCancellation) ? 'cancelled' : 'failed';
    record.error = messageOf(err);
    // A rollout that failed was rolled back: what runs now is in the failure's details.
    const rolledBack = failureChain(err).find((e) => e.type === ROLLED_BACK) as
      { details?: unknown[] } | undefined;
    const after = rolledBack?.details?.[0] as OperationResult | undefined;
    if (after) recordInstances(state, after);
    if (record.type === 'deploy' && state.phase === 'new') state.phase = 'failed';
  }
  record.endedAtMs = nowMs();
  if (record.status === 'completed' && record.type !== 'destroy')
    await ensurePolicies(state, record.request!);
}

/** The blueprint operations will see: the last deploy still queued or running, else the applied one. */
function effectiveBlueprint(state: AppState): Blueprint | undefined {
  const pending = state.operations.filter(
    (o) => (o.status === 'queued' || o.status === 'running') && o.request?.type === 'deploy',
  );
  const last = pending.at(-1)?.request;
  return last?.type === 'deploy' ? last.blueprint : state.blueprint;
}

function validate(state: AppState, request: OperationRequest): void {
  if (state.phase === 'destroyed') throw new Error(`app '${state.app}' is being destroyed`);
  const blueprint = effectiveBlueprint(state);
  switch (request.type) {
    case 'deploy':
      if (request.blueprint.app !== state.app)
        throw new Error(`blueprint is for app '${request.blueprint.app}', not '${state.app}'`);
      return;
    case 'scale': {
      if (!blueprint) throw new Error(`app '${state.app}' has not been deployed yet`);
      const known = blueprint.services.map((s) => s.id);
      if (!known.includes(request.service)) {
        throw new Error(
          `app '${state.app}' has no service '${request.service}' (services: ${known.join(', ')})`,
        );
      }
      if (!Number.isInteger(request.replicas) || request.replicas < 0) {
        throw new Error(`replicas must be a whole number >= 0, got ${request.replicas}`);
      }
      return;
    }
    case 'heal':
      if (!blueprint) throw new Error(`app '${state.app}' has not been deployed yet`);
      return;
    case 'rollback':
      rollbackTarget(state, request.toVersion);
      return;
    case 'destroy':
      return;
  }
}

/** The version a rollback goes to: the one asked for, else the one before the current. */
function rollbackTarget(state: AppState, toVersion: number | undefined): AppVersion {
  const versions = state.versions ?? [];
  if (!state.blueprint || versions.length === 0)
    throw new Error(`app '${state.app}' has not been deployed yet`);
  const kept = versions.map((v) => v.version).join(', ');
  if (toVersion === undefined) {
    const before = versions.filter((v) => v.version < (state.version ?? 0)).at(-1);
    if (!before) throw new Error(`app '${state.app}' has no version before ${state.version} (kept: ${kept})`);
    return before;
  }
  const target = versions.find((v) => v.version === toVersion);
  if (!target) throw new Error(`app '${state.app}' has no version ${toVersion} (kept: ${kept})`);
  if (toVersion === state.version) throw new Error(`app '${state.app}' runs version ${toVersion} already`);
  return target;
}

function operationInput(state: AppState, request: OperationRequest): OperationInput {
  const base = { app: state.app, addresses: state.addresses, options: request.options ?? {} };
  const previous = state.blueprint
    ? {
        blueprint: state.blueprint,
        secrets: state.secrets,
        replicas: state.replicas,
        ...(state.version !== undefined ? { version: state.version } : {}),
        ...(state.images ? { images: state.images } : {}),
      }
    : undefined;
  // Where named volumes live, and what the images are pinned to: every operation but a deploy runs those.
  const kept = {
    ...(state.volumeHosts ? { volumeHosts: state.volumeHosts } : {}),
    ...(state.images ? { images: state.images } : {}),
  };
  switch (request.type) {
    case 'deploy':
    case 'rollback': {
      const blueprint =
        request.type === 'deploy' ? request.blueprint : rollbackTarget(state, request.toVersion).blueprint;
      const { replicas, notes } = replicasFor(state, blueprint!);
      const target = request.type === 'rollback' ? rollbackTarget(state, request.toVersion) : undefined;
      return {
        ...base,
        ...kept,
        // A rollback runs the images its version ran.
        ...(target ? { images: target.images } : {}),
        operation: request.type,
        blueprint,
        replicas,
        secrets: request.type === 'deploy' ? request.secrets : state.secrets,
        ...(previous ? { previous } : {}),
        version: nextVersion(state, blueprint),
        ...(notes.length ? { notes } : {}),
      };
    }
    case 'scale':
      return {
        ...base,
        ...kept,
        operation: 'scale',
        blueprint: state.blueprint,
        replicas: { ...state.replicas, [request.service]: request.replicas },
        secrets: state.secrets,
      };
    case 'heal':
      return {
        ...base,
        ...kept,
        operation: 'heal',
        blueprint: state.blueprint,
        replicas: state.replicas,
        secrets: state.secrets,
        ...(request.allowDataLoss ? { allowDataLoss: true } : {}),
      };
    case 'destroy':
      return {
        ...base,
        operation: 'destroy',
        replicas: {},
        ...(request.volumes ? { removeVolumes: true } : {}),
      };
  }
}

/** The version a blueprint would be: the current one when it is the same, else the next number. */
function nextVersion(state: AppState, blueprint: Blueprint): number {
  if (state.blueprint && canonicalJson(state.blueprint) === canonicalJson(blueprint) && state.version)
    return state.version;
  return Math.max(0, ...(state.versions ?? []).map((v) => v.version)) + 1;
}

function apply(
  state: AppState,
  record: OperationRecord,
  input: OperationInput,
  result: OperationResult,
): void {
  const request = record.request!;
  if (request.type === 'destroy') {
    state.phase = 'destroyed';
    state.instances = [];
    state.addresses = {};
    return;
  }
  if (request.type === 'deploy' || request.type === 'rollback') {
    const rollbackOf =
      request.type === 'rollback' ? rollbackTarget(state, request.toVersion).version : undefined;
    state.blueprint = input.blueprint;
    state.secrets = input.secrets;
    state.replicas = input.replicas;
    // The same blueprint whose tags now name other images is a new version too.
    const current = state.versions?.find((v) => v.version === state.version);
    const moved =
      current?.images !== undefined &&
      result.images !== undefined &&
      canonicalJson(current.images) !== canonicalJson(result.images);
    if (
      input.version !== undefined &&
      input.version === state.version &&
      moved &&
      request.type === 'deploy'
    ) {
      input.version = Math.max(0, ...(state.versions ?? []).map((v) => v.version)) + 1;
      record.version = input.version;
    }
    if (input.version !== undefined && input.version !== state.version) {
      const version: AppVersion = {
        version: input.version,
        blueprint: input.blueprint!,
        appliedAtMs: nowMs(),
        operationId: record.id,
        ...(rollbackOf !== undefined ? { rollbackOf } : {}),
        ...(result.images ? { images: result.images } : {}),
      };
      state.versions = [...(state.versions ?? []), version].slice(-KEEP_VERSIONS);
      state.version = input.version;
    } else if (current && result.images) current.images = result.images;
  }
  if (request.type === 'scale') state.replicas = { ...state.replicas, [request.service]: request.replicas };
  state.phase = 'running';
  recordInstances(state, result);
}

function recordInstances(state: AppState, result: OperationResult): void {
  if (result.subnet) state.subnet = result.subnet;
  state.instances = result.instances;
  state.addresses = result.addresses;
  if (result.images) state.images = result.images;
  if (result.volumeHosts) state.volumeHosts = result.volumeHosts;
  if (result.waiting) state.waiting = result.waiting;
}

function trim(records: OperationRecord[]): void {
  records.splice(0, Math.max(0, records.length - KEEP_RECORDS));
  records.slice(0, -KEEP_REQUESTS).forEach((r) => {
    if (r.status !== 'queued' && r.status !== 'running') delete r.request;
  });
}
