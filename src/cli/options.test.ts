import { describe, expect, it } from 'vitest';
import { serverUrl } from './options.js';

describe('serverUrl (--server)', () => {
  it('keeps a full http:// or https:// address as its origin', () => {
    expect(serverUrl('http://127.0.0.1:6789')).toBe('http://127.0.0.1:6789');
    expect(serverUrl('https://192.168.1.20:6789/')).toBe('https://192.168.1.20:6789');
  });

  it('takes a bare host:port with the scheme its server speaks: http on loopback, https beyond', () => {
    expect(serverUrl('127.0.0.1:7789')).toBe('http://127.0.0.1:7789');
    expect(serverUrl('localhost:7789')).toBe('http://localhost:7789');
    expect(serverUrl('[::1]:7789')).toBe('http://[::1]:7789');
    expect(serverUrl('192.168.1.20:6789')).toBe('https://192.168.1.20:6789');
    expect(serverUrl('chorus.lan')).toBe('https://chorus.lan:6789');
    expect(serverUrl(' 127.0.0.1 ')).toBe('http://127.0.0.1:6789');
  });

  it('still refuses other schemes, paths and what is no address', () => {
    expect(() => serverUrl('ftp://127.0.0.1:6789')).toThrow('it must start with http:// or https://');
    expect(() => serverUrl('127.0.0.1:6789/chorus')).toThrow();
    expect(() => serverUrl('http://127.0.0.1:6789/chorus')).toThrow('give only the scheme, host and port');
    expect(() => serverUrl('two words')).toThrow();
  });
});
