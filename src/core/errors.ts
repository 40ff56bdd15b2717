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

const MAX_MESSAGE_CHARS = 400;

/**
 * A message stays one printable line: control characters a file or request may hold (NUL, ESC, CR, LF...) are
 * shown escaped, and a huge key or value cannot make a huge message.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`;
  });
  return clean.length > MAX_MESSAGE_CHARS ? `${clean.slice(0, MAX_MESSAGE_CHARS - 3)}...` : clean;
}
