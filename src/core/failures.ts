/**
 * One vocabulary of failures: the `type` of every ApplicationFailure Berth raises, and the reading
 * of a failure that Temporal has wrapped (WorkflowFailedError → ChildWorkflowFailure →
 * ActivityFailure → ApplicationFailure). Pure, so workflows, activities, clients and the CLI share it.
 *
 * A type names what went wrong, not where: callers branch on it (`AddressInUse` makes converge pick
 * another address, `SubnetTaken` another subnet) and Temporal's retry policy reads
 * `nonRetryable` beside it. A `UserError` from the pure core keeps its class name as its type
 * (`BlueprintError`, `StrategyConfigError`, `UserError`, ...), see `asUserFailure`.
 */
export const Failure = {
  // --- the request names something that is not there ----------------------------------------
  UnknownApp: 'UnknownApp',
  UnknownService: 'UnknownService',
  UnknownHost: 'UnknownHost',
  NotDeployed: 'NotDeployed',
  // --- placement and the pool ---------------------------------------------------------------
  NoHostFits: 'NoHostFits',
  NoProvider: 'NoProvider',
  PoolFull: 'PoolFull',
  PoolInUse: 'PoolInUse',
  HostExists: 'HostExists',
  HostInUse: 'HostInUse',
  /** An update of the inventory was refused and gave no type of its own. */
  InventoryRejected: 'InventoryRejected',
  // --- hosts --------------------------------------------------------------------------------
  /** Retryable when an activity meets it; the inventory's admission of a host does not retry. */
  HostUnreachable: 'HostUnreachable',
  HostAuthFailed: 'HostAuthFailed',
  HostKeyMismatch: 'HostKeyMismatch',
  HostRejected: 'HostRejected',
  // --- the Docker engine --------------------------------------------------------------------
  DockerUnreachable: 'DockerUnreachable',
  /** A 4xx: the request itself is wrong (non-retryable). */
  DockerRequestRejected: 'DockerRequestRejected',
  /** A 5xx or anything else from the engine (retryable). */
  DockerError: 'DockerError',
  // --- networks, addresses, readiness -------------------------------------------------------
  NetworkMismatch: 'NetworkMismatch',
  SubnetTaken: 'SubnetTaken',
  AddressInUse: 'AddressInUse',
  NotReady: 'NotReady',
  // --- images -------------------------------------------------------------------------------
  ImageNotFound: 'ImageNotFound',
  ImageBuildFailed: 'ImageBuildFailed',
  DockerfileUnavailable: 'DockerfileUnavailable',
  RegistryError: 'RegistryError',
  /** A registry refused the pull (credentials missing or wrong, no access). */
  ImagePullDenied: 'ImagePullDenied',
  /** No resolver knows the registry's name. */
  UnknownRegistry: 'UnknownRegistry',
  /** The engine and the registry do not agree on how to talk (plain HTTP, a certificate). */
  RegistryMisconfigured: 'RegistryMisconfigured',
  /** The registry could not be reached (retryable, bounded). */
  RegistryUnreachable: 'RegistryUnreachable',
  // --- volumes ------------------------------------------------------------------------------
  /** A bind mount's host path does not exist on the host that runs the container. */
  BindSourceMissing: 'BindSourceMissing',
  // --- Berth's DNS server -------------------------------------------------------------------
  DnsServerError: 'DnsServerError',
  DnsConfigInvalid: 'DnsConfigInvalid',
} as const;

export type FailureType = (typeof Failure)[keyof typeof Failure];

/** The fields of a (Temporal or plain) error that the helpers read. */
export interface FailureLike {
  message?: string;
  type?: string;
  cause?: unknown;
}

/** Wrapping is a few levels deep at most; the bound keeps a cyclic `cause` from looping. */
const MAX_DEPTH = 8;

/** The error, then each `cause` inside it, outermost first. */
export function failureChain(err: unknown): FailureLike[] {
  const chain: FailureLike[] = [];
  let e = err as FailureLike | undefined;
  for (let i = 0; i < MAX_DEPTH && e && typeof e === 'object'; i++) {
    chain.push(e);
    e = e.cause as FailureLike | undefined;
  }
  return chain;
}

/** The innermost cause: the failure that says what went wrong. */
export function innermost(err: unknown): FailureLike {
  return failureChain(err).at(-1) ?? { message: String(err) };
}

/** The innermost message, the one line a user should see. */
export function messageOf(err: unknown): string {
  return innermost(err).message ?? String(err);
}

/** Whether the error, or any failure it wraps, is of `type`. */
export function isFailureOfType(err: unknown, type: FailureType): boolean {
  return failureChain(err).some((e) => e.type === type);
}
