import { parse, yaml } from './helpers';
import {
  resolveEnv,
  resolveTemplate,
  TemplateError,
  templateUses,
} from '../../../src/core/blueprint/references';

describe('secrets', () => {
  const bp = parse(
    yaml(
      'id: app',
      'secrets: [db-password, api_token]',
      'services:',
      '  - id: web',
      '    image: x',
      '    env:',
      '      PASSWORD: $secret:db-password',
      '      URL: postgres://app:$secret:db-password@db/app',
      '      TOKEN: $brooklyn:external("vault", "api_token")',
      '  - {id: db, image: x}',
    ),
  );

  it('are kept as placeholders and names only', () => {
    const web = bp.services.find((s) => s.id === 'web')!;
    expect(web.env).toEqual({
      PASSWORD: '${secret:db-password}',
      URL: 'postgres://app:${secret:db-password}@db/app',
      TOKEN: '${secret:api_token}',
    });
    expect(web.secrets).toEqual(['db-password', 'api_token']);
    expect(bp.secrets).toEqual(['db-password', 'api_token']);
  });

  it('resolve at deploy time through a lookup, and a missing one is named', () => {
    const lookup = {
      attribute: (service: string, attr: string) =>
        service === 'db' && attr === 'host' ? 'db.app.berth' : undefined,
      secret: (name: string) => (name === 'db-password' ? 'hunter2' : undefined),
    };
    expect(resolveTemplate('postgres://app:${secret:db-password}@${db.host}/x $${lit}', lookup)).toBe(
      'postgres://app:hunter2@db.app.berth/x ${lit}',
    );
    expect(() => resolveEnv({ A: '${secret:nope} ${db.port}' }, lookup)).toThrow(TemplateError);
    expect(() => resolveTemplate('${secret:nope} ${db.port}', lookup)).toThrow(
      "cannot resolve secret 'nope', 'db.port'",
    );
    expect(templateUses('${a.b} ${secret:c}')).toEqual({
      refs: [{ service: 'a', attribute: 'b' }],
      secrets: ['c'],
    });
  });

  it('never appear in clear in the model', () => {
    const text = yaml(
      'id: app',
      'secrets: {pw: {description: the password}}',
      'services:',
      '  - id: a',
      '    image: x',
      '    env: {P: $secret:pw}',
    );
    const model = JSON.stringify(parse(text));
    expect(model).toContain('${secret:pw}');
    expect(model).not.toContain('the password');
  });

  it('are refused outside env values', () => {
    const r = () =>
      parse(yaml('id: app', 'services:', '  - id: a', '    image: x', '    command: echo $secret:pw'));
    expect(r).toThrow(
      "5:14: key 'command' in service 'a' cannot hold secrets; pass them through env values ('$secret:NAME')",
    );
  });
});
