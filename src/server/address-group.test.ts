import { describe, expect, it } from 'vitest';
import { LOOPBACK_HOST, addressGroup, hostOf } from './address-group.js';

describe('addressGroup', () => {
  it('keeps an IPv4 address as it is, and reads an IPv4-mapped IPv6 address as IPv4', () => {
    expect(addressGroup('127.1.2.3')).toBe('127.1.2.3');
    expect(addressGroup('::ffff:10.0.0.7')).toBe('10.0.0.7');
    expect(addressGroup('::FFFF:10.0.0.7')).toBe('10.0.0.7');
  });

  it('groups IPv6 addresses by their /64, however they are written', () => {
    const group = addressGroup('2001:db8:1:2::1');
    expect(addressGroup('2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd')).toBe(group);
    expect(addressGroup('2001:db8:1:2:ffff::')).toBe(group);
    expect(addressGroup('2001:db8:1:2::1%eth0')).toBe(group);
    expect(addressGroup('2001:db8:1:3::1')).not.toBe(group);
    expect(addressGroup('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressGroup('::1')).toBe('0:0:0:0::/64');
    expect(addressGroup('fe80::1:2:3:4')).toBe('fe80:0:0:0::/64');
    expect(addressGroup('64:ff9b::192.0.2.1')).toBe('64:ff9b:0:0::/64');
  });
});

describe('hostOf', () => {
  it('counts every loopback address as one host: a local user cannot be many by binding 127.0.0.2, 127.0.0.3, …', () => {
    for (const loopback of ['127.0.0.1', '127.1.2.3', '127.255.255.254', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.5']) expect(hostOf(loopback)).toBe(LOOPBACK_HOST);
  });

  it('is the address itself otherwise, IPv6 too (a LAN shares one /64: no grouping here)', () => {
    expect(hostOf('192.168.1.20')).toBe('192.168.1.20');
    expect(hostOf('::ffff:10.0.0.7')).toBe('10.0.0.7');
    expect(hostOf('2001:db8:1:2::1')).toBe('2001:db8:1:2::1');
    expect(hostOf('2001:db8:1:2::2')).not.toBe(hostOf('2001:db8:1:2::1'));
    expect(hostOf('128.0.0.1')).toBe('128.0.0.1');
  });
});
