import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import type { Blueprint } from '../src/core/blueprint/model';
import { messageOf } from '../src/core/failures';
import { operationWorkflowId } from '../src/core/names';
import {
  appStateQuery,
  hostsLostSignal,
  operateUpdate,
  retryUpdate,
  type AppInput,
  type AppState,
  type OperationRecord,
} from './api/app';
import type { OperationInput, OperationRequest, OperationResult } from './api/operations';
import { BERTH_APP, BERTH_OPERATION, BERTH_STATUS } from './api/search-attributes';
import { ensurePolicies, stopPolicies } from './policies/app-hooks';

/**
 * One entity workflow per app (`berth-app-<app>`): it holds the desired state and what runs, and
 * runs operations one at a time as child workflows, so deploy, scale, heal and destroy of one app
 * never interleave.
 */

const KEEP_REQUESTS = 10;
const KEEP_RECORDS = 50;

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

  const enqueue = async (request: OperationRequest): Promise<{ operationId: string }> => {
    state.seq++;
    const record: OperationRecord = {
      id: operationWorkflowId(request.type, state.app, state.seq),
      type: request.type,
      status: 'queued',
      request,
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
        if (record.status !== 'failed')
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
    record.status = 'running';
    // A destroy stops the app's policies first, so none reacts to containers going away.
    if (record.type === 'destroy') await stopPolicies(state);
    try {
      const child = await startChild(record.type, {
        workflowId: record.id,
        args: [operationInput(state, record.request!)],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        typedSearchAttributes: [
          { key: BERTH_APP, value: state.app },
          { key: BERTH_OPERATION, value: record.type },
          { key: BERTH_STATUS, value: 'running' },
        ],
      });
      record.started = true;
      apply(state, record.request!, await child.result());
      record.status = 'completed';
    } catch (err) {
      record.status = 'failed';
      record.error = messageOf(err);
      if (record.type === 'deploy' && state.phase === 'new') state.phase = 'failed';
    }
    if (record.status === 'completed' && record.type !== 'destroy')
      await ensurePolicies(state, record.request!);
  }
  await condition(allHandlersFinished);
  if (state.phase !== 'destroyed') await continueAsNew<typeof app>({ app: state.app, state });
  return state;
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
    case 'destroy':
      return;
  }
}

function operationInput(state: AppState, request: OperationRequest): OperationInput {
  const base = { app: state.app, addresses: state.addresses, options: request.options ?? {} };
  switch (request.type) {
    case 'deploy':
      return {
        ...base,
        operation: 'deploy',
        blueprint: request.blueprint,
        replicas: Object.fromEntries(request.blueprint.services.map((s) => [s.id, s.replicas])),
        secrets: request.secrets,
      };
    case 'scale':
      return {
        ...base,
        operation: 'scale',
        blueprint: state.blueprint,
        replicas: { ...state.replicas, [request.service]: request.replicas },
        secrets: state.secrets,
      };
    case 'heal':
      return {
        ...base,
        operation: 'heal',
        blueprint: state.blueprint,
        replicas: state.replicas,
        secrets: state.secrets,
      };
    case 'destroy':
      return { ...base, operation: 'destroy', replicas: {} };
  }
}

function apply(state: AppState, request: OperationRequest, result: OperationResult): void {
  if (request.type === 'destroy') {
    state.phase = 'destroyed';
    state.instances = [];
    state.addresses = {};
    return;
  }
  if (request.type === 'deploy') {
    state.blueprint = request.blueprint;
    state.secrets = request.secrets;
    state.replicas = Object.fromEntries(request.blueprint.services.map((s) => [s.id, s.replicas]));
  }
  if (request.type === 'scale') state.replicas = { ...state.replicas, [request.service]: request.replicas };
  state.phase = 'running';
  state.subnet = result.subnet;
  state.instances = result.instances;
  state.addresses = result.addresses;
}

function trim(records: OperationRecord[]): void {
  records.splice(0, Math.max(0, records.length - KEEP_RECORDS));
  records.slice(0, -KEEP_REQUESTS).forEach((r) => {
    if (r.status !== 'queued' && r.status !== 'running') delete r.request;
  });
}
