import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from './loopback.js';

describe('isLoopbackHost', () => {
  it('is 127.0.0.0/8, ::1 in its forms, and localhost', () => {
    for (const host of ['127.0.0.1', '127.9.8.7', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackHost(host), host).toBe(true);
  });

  it('is nothing else, names that merely start like one included', () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.20', '128.0.0.1', '127.0.0.1.attacker.example', 'localhost.example', '::2', '']) expect(isLoopbackHost(host), host).toBe(false);
  });
});
