import { describe, expect, it } from 'vitest';
import { addressGroup } from './address-group.js';

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
