/**
 * A user-facing error: the CLI prints `error: <message>` on one line (no stack) and exits 1.
 * `problems` carries one located line per problem when there are several (blueprints, inventories).
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
    this.name = 'UserError';
  }
}
