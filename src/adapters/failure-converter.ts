/**
 * Failures (messages and stack traces) are encoded as a payload, which Berth's codec then seals, so
 * an error that quotes a value — an image name, an engine's message about a container — is no more
 * readable in Temporal's history than the payloads are. Loaded by path (`failureConverterPath`) in
 * the worker, the clients and the workflow sandbox, so it imports only `@temporalio/common`.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
