import { UserError } from '../../src/core/errors';
import { dnsRecordsFor, hostsFileOf } from '../../src/core/dns-names';
import {
  DEFAULT_DNS_SUBNET,
  DEFAULT_POOL_CIDR,
  DEFAULT_SUBNET_PREFIX,
  allocateSubnet,
  assignAddress,
  dynamicRangeOf,
  gatewayOf,
  isAssignable,
} from '../../src/core/ipam';

const alloc = (taken: string[], requested?: string) =>
  allocateSubnet(DEFAULT_POOL_CIDR, DEFAULT_SUBNET_PREFIX, taken, requested);

function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return (err as Error).message;
  }
  throw new Error('expected a UserError');
}

describe('allocateSubnet', () => {
  test('the lowest free /24 of the default pool', () => {
    expect(alloc([])).toBe('10.201.0.0/24');
    expect(alloc(['10.201.0.0/24'])).toBe('10.201.1.0/24');
    expect(alloc(['10.201.0.0/24', '10.201.2.0/24'])).toBe('10.201.1.0/24');
  });

  test('reuses a released subnet (the lowest gap)', () => {
    const taken = ['10.201.0.0/24', '10.201.1.0/24', '10.201.2.0/24'];
    expect(alloc(taken)).toBe('10.201.3.0/24');
    expect(alloc(taken.filter((t) => t !== '10.201.1.0/24'))).toBe('10.201.1.0/24');
  });

  test('skips taken ranges of any size, in any order, inside or partly inside the pool', () => {
    expect(alloc(['10.201.0.0/22'])).toBe('10.201.4.0/24');
    expect(alloc(['10.201.1.128/25', '10.201.0.0/24'])).toBe('10.201.2.0/24');
    expect(alloc(['10.201.0.0/17', '10.201.128.0/24'])).toBe('10.201.129.0/24');
    expect(alloc(['10.201.0.0/24', '10.201.0.7', '10.201.1.0/25'])).toBe('10.201.2.0/24');
  });

  test('a taken range covering the whole pool exhausts it', () => {
    expect(userError(() => alloc(['10.200.0.0/15']))).toMatch(
      /no free \/24 subnet left in pool 10\.201\.0\.0\/16/,
    );
  });

  test('exhaustion of a small pool, with the DNS subnet reserved by default', () => {
    const pool = '10.201.255.0/23'; // 10.201.254.0/24 and 10.201.255.0/24 (Berth's DNS)
    expect(allocateSubnet('10.201.254.0/23', 24, [])).toBe('10.201.254.0/24');
    expect(userError(() => allocateSubnet('10.201.254.0/23', 24, ['10.201.254.0/24']))).toMatch(
      /no free \/24 subnet left/,
    );
    expect(userError(() => allocateSubnet(pool, 24, []))).toMatch(
      /host bits set; did you mean '10\.201\.254\.0\/23'/,
    );
  });

  test('the default pool has 255 app subnets: the last /24 is the DNS network', () => {
    const taken: string[] = [];
    for (let i = 0; i < 255; i++) taken.push(alloc(taken));
    expect(taken[254]).toBe('10.201.254.0/24');
    expect(taken).not.toContain(DEFAULT_DNS_SUBNET);
    expect(userError(() => alloc(taken))).toMatch(/no free \/24/);
  });

  test('reserved ranges are configurable (another DNS subnet, or none)', () => {
    expect(allocateSubnet('10.201.255.0/24', 24, [], undefined, [])).toBe('10.201.255.0/24');
    expect(allocateSubnet(DEFAULT_POOL_CIDR, 24, [], undefined, ['10.201.0.0/24'])).toBe('10.201.1.0/24');
  });

  test('other pool and prefix lengths', () => {
    expect(allocateSubnet('172.30.0.0/16', 26, ['172.30.0.0/26'])).toBe('172.30.0.64/26');
    expect(allocateSubnet('192.168.0.0/24', 30, ['192.168.0.0/30', '192.168.0.4/30'])).toBe('192.168.0.8/30');
    expect(userError(() => allocateSubnet('10.0.0.0/16', 12, []))).toMatch(
      /prefix length 12 does not fit pool 10\.0\.0\.0\/16/,
    );
    expect(userError(() => allocateSubnet('10.0.0.0/16', 31, []))).toMatch(/\/16 to \/30/);
  });

  test('a requested CIDR inside or outside the pool is validated against taken ones', () => {
    expect(alloc(['10.201.0.0/24'], '10.201.7.0/24')).toBe('10.201.7.0/24');
    expect(alloc([], '192.168.50.0/24')).toBe('192.168.50.0/24');
    expect(alloc([], ' 172.20.0.0/16 ')).toBe('172.20.0.0/16');
    expect(userError(() => alloc(['10.201.7.0/24'], '10.201.7.0/24'))).toBe(
      'requested subnet 10.201.7.0/24 overlaps 10.201.7.0/24, already in use',
    );
    expect(userError(() => alloc(['10.201.7.128/25'], '10.201.0.0/16'))).toMatch(
      /overlaps 10\.201\.7\.128\/25/,
    );
    expect(userError(() => alloc(['10.201.0.0/16'], '10.201.9.0/28'))).toMatch(/overlaps 10\.201\.0\.0\/16/);
    expect(userError(() => alloc([], '10.201.255.0/25'))).toMatch(/reserved for Berth's DNS server/);
  });

  test('malformed CIDRs are clear errors', () => {
    expect(userError(() => alloc([], '10.201.3.5/24'))).toBe(
      "requested subnet '10.201.3.5/24' has host bits set; did you mean '10.201.3.0/24'?",
    );
    expect(userError(() => alloc([], '10.201.3.0'))).toMatch(/is not an IPv4 CIDR such as 10\.201\.3\.0\/24/);
    expect(userError(() => alloc([], '10.201.300.0/24'))).toMatch(/not an IPv4 CIDR/);
    expect(userError(() => alloc([], '10.201.3.0/33'))).toMatch(/not an IPv4 CIDR/);
    expect(userError(() => alloc([], 'fd00::/64'))).toMatch(/not an IPv4 CIDR/);
    expect(userError(() => alloc([], '10.201.3.0/31'))).toMatch(/too small/);
    expect(userError(() => alloc(['banana']))).toMatch(/taken address 'banana\/32' is not an IPv4 CIDR/);
    expect(userError(() => allocateSubnet('10.201.0.0', 24, []))).toMatch(/subnet pool '10\.201\.0\.0'/);
  });

  test('is deterministic and cheap on a large pool', () => {
    const taken = Array.from(
      { length: 5000 },
      (_, i) => `10.${(i >> 6) & 255}.${(i & 63) * 4}.0/22`,
    ).reverse();
    const first = allocateSubnet('10.0.0.0/8', 30, taken, undefined, []);
    expect(first).toBe('10.78.32.0/30');
    expect(allocateSubnet('10.0.0.0/8', 30, taken, undefined, [])).toBe(first);
  });
});

describe('gatewayOf and isAssignable', () => {
  test('the gateway is the first host', () => {
    expect(gatewayOf('10.201.3.0/24')).toBe('10.201.3.1');
    expect(gatewayOf('192.168.0.8/30')).toBe('192.168.0.9');
    expect(userError(() => gatewayOf('10.0.0.0/31'))).toMatch(/no room for a gateway/);
    expect(userError(() => gatewayOf('10.0.0.1/24'))).toMatch(/host bits set/);
  });

  test('network, gateway and broadcast are not assignable', () => {
    expect(
      ['10.1.1.0', '10.1.1.1', '10.1.1.2', '10.1.1.254', '10.1.1.255', '10.1.2.3'].map((a) =>
        isAssignable('10.1.1.0/24', a),
      ),
    ).toEqual([false, false, true, true, false, false]);
  });
});

describe('assignAddress', () => {
  const subnet = '10.201.3.0/24';

  test('the lowest free address after the gateway', () => {
    expect(assignAddress(subnet, [])).toBe('10.201.3.2');
    expect(assignAddress(subnet, ['10.201.3.2', '10.201.3.3'])).toBe('10.201.3.4');
    expect(assignAddress(subnet, ['10.201.3.3'])).toBe('10.201.3.2');
  });

  test('a released address is reused (the lowest gap first)', () => {
    const taken = ['10.201.3.2', '10.201.3.3', '10.201.3.4'];
    expect(
      assignAddress(
        subnet,
        taken.filter((a) => a !== '10.201.3.3'),
      ),
    ).toBe('10.201.3.3');
  });

  test('addresses outside the subnet, network, gateway or broadcast in taken are ignored', () => {
    expect(assignAddress(subnet, ['10.201.4.2', '10.201.3.0', '10.201.3.1', '10.201.3.255'])).toBe(
      '10.201.3.2',
    );
    expect(assignAddress(subnet, ['10.201.3.2/24'])).toBe('10.201.3.3');
  });

  test('a preferred address is honoured when free and assignable', () => {
    expect(assignAddress(subnet, ['10.201.3.2'], '10.201.3.77')).toBe('10.201.3.77');
    expect(assignAddress(subnet, ['10.201.3.77'], '10.201.3.77')).toBe('10.201.3.2'); // taken by another
    expect(assignAddress(subnet, [], '10.201.4.77')).toBe('10.201.3.2'); // outside the subnet
    expect(assignAddress(subnet, [], '10.201.3.1')).toBe('10.201.3.2'); // the gateway
    expect(assignAddress(subnet, [], '10.201.3.255')).toBe('10.201.3.2'); // broadcast
    expect(assignAddress(subnet, [], '')).toBe('10.201.3.2');
    expect(userError(() => assignAddress(subnet, [], '10.201.3.x'))).toMatch(
      /preferred address '10\.201\.3\.x'/,
    );
  });

  test('a full subnet is a clear error', () => {
    const taken = Array.from({ length: 253 }, (_, i) => `10.201.3.${i + 2}`);
    expect(userError(() => assignAddress(subnet, taken))).toBe(
      'subnet 10.201.3.0/24 is full: all 253 instance addresses are taken (use a larger network.cidr)',
    );
    expect(assignAddress(subnet, taken.slice(1))).toBe('10.201.3.2');
  });

  test('/30: one instance address (.2); /29: five', () => {
    expect(assignAddress('192.168.0.8/30', [])).toBe('192.168.0.10');
    expect(userError(() => assignAddress('192.168.0.8/30', ['192.168.0.10']))).toMatch(
      /all 1 instance addresses/,
    );
    expect(assignAddress('192.168.0.8/30', [], '192.168.0.11')).toBe('192.168.0.10'); // broadcast
    expect(assignAddress('192.168.0.8/30', [], '192.168.0.9')).toBe('192.168.0.10'); // gateway
    const five = ['.2', '.3', '.4', '.5', '.6'].map((s) => `192.168.0${s}`);
    const taken: string[] = [];
    for (let i = 0; i < 5; i++) taken.push(assignAddress('192.168.0.0/29', taken));
    expect(taken).toEqual(five);
    expect(userError(() => assignAddress('192.168.0.0/29', taken))).toMatch(/is full/);
  });

  test('/31 and /32 have no room', () => {
    expect(userError(() => assignAddress('192.168.0.8/31', []))).toMatch(/no room/);
    expect(userError(() => assignAddress('192.168.0.8/32', []))).toMatch(/no room/);
  });
});

describe('dnsRecordsFor', () => {
  const instances = [
    { service: 'web', instance: 'web-2', address: '10.201.3.10', ready: true },
    { service: 'web', instance: 'web-1', address: '10.201.3.9', ready: true },
    { service: 'web', instance: 'web-3', address: '10.201.3.11', ready: false },
    { service: 'db', instance: 'db-1', address: '10.201.3.2', ready: true },
  ];

  test('service names for ready instances, instance names for all, sorted', () => {
    expect(dnsRecordsFor('shop', instances)).toEqual([
      { name: 'db-1.db.shop.berth', address: '10.201.3.2' },
      { name: 'db.shop.berth', address: '10.201.3.2' },
      { name: 'web-1.web.shop.berth', address: '10.201.3.9' },
      { name: 'web-2.web.shop.berth', address: '10.201.3.10' },
      { name: 'web-3.web.shop.berth', address: '10.201.3.11' },
      { name: 'web.shop.berth', address: '10.201.3.9' },
      { name: 'web.shop.berth', address: '10.201.3.10' },
    ]);
    expect(dnsRecordsFor('shop', [...instances].reverse())).toEqual(dnsRecordsFor('shop', instances));
    expect(hostsFileOf(dnsRecordsFor('shop', instances.slice(3)))).toBe(
      '10.201.3.2 db-1.db.shop.berth\n10.201.3.2 db.shop.berth\n',
    );
  });

  test('no instances, no records; bad input is a UserError', () => {
    expect(dnsRecordsFor('shop', [])).toEqual([]);
    expect(userError(() => dnsRecordsFor('Shop', []))).toMatch(/not a DNS label/);
    expect(
      userError(() => dnsRecordsFor('shop', [{ ...instances[0], instance: 'web 1\n1.2.3.4 evil' }])),
    ).toMatch(/not a DNS label/);
    expect(userError(() => dnsRecordsFor('shop', [{ ...instances[0], address: '10.201.3.300' }]))).toMatch(
      /no valid IPv4/,
    );
  });
});

describe('dynamic range of an overlay subnet', () => {
  test('is the top quarter, and instance addresses stop below it', () => {
    expect(dynamicRangeOf('10.201.4.0/24')).toBe('10.201.4.192/26');
    expect(dynamicRangeOf('10.201.0.0/16')).toBe('10.201.192.0/18');
    expect(dynamicRangeOf('10.201.4.0/29')).toBeUndefined();
    const taken = Array.from({ length: 189 }, (_, i) => `10.201.4.${i + 2}`);
    expect(assignAddress('10.201.4.0/24', taken.slice(0, 188), undefined, '10.201.4.192/26')).toBe(
      '10.201.4.190',
    );
    expect(assignAddress('10.201.4.0/24', taken.slice(0, 189), undefined, '10.201.4.192/26')).toBe(
      '10.201.4.191',
    );
    expect(() =>
      assignAddress('10.201.4.0/24', [...taken, '10.201.4.191'], undefined, '10.201.4.192/26'),
    ).toThrow(/full/);
  });
});
