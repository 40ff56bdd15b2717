import { describeHost, parseSshUrl } from '../../src/core/hosts';

describe('parseSshUrl', () => {
  test.each([
    ['ssh://root@10.0.0.5', { user: 'root', host: '10.0.0.5', port: 22 }],
    ['ssh://deploy@db.example:2222', { user: 'deploy', host: 'db.example', port: 2222 }],
    ['ssh://10.0.0.5:22/', { user: 'root', host: '10.0.0.5', port: 22 }],
    ['ssh://admin@[fd00::1]:22', { user: 'admin', host: 'fd00::1', port: 22 }],
  ])('%s', (url, expected) => {
    expect(parseSshUrl(url)).toEqual(expected);
  });

  test.each([
    'http://root@h',
    'ssh://',
    'ssh://root@',
    'ssh://h:0',
    'ssh://h:70000',
    'root@h',
    'ssh://a@b@c',
  ])('rejects %s', (url) => {
    expect(parseSshUrl(url)).toBeUndefined();
  });
});

test('describeHost names the SSH endpoint', () => {
  expect(describeHost({ id: 'local', provider: 'local' })).toBe('local');
  expect(
    describeHost({
      id: 'h1',
      provider: 'ssh',
      ssh: { host: '10.0.0.5', port: 22, user: 'root', keyFile: '/k' },
    }),
  ).toBe('h1 (ssh://root@10.0.0.5:22)');
});
