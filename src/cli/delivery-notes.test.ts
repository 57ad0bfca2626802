import { describe, expect, it } from 'vitest';
import type { DeliveryState } from '../client/receiver.js';
import { announceDelivery, chatDeliveryLine, chatServerLine, tailDeliveryLine, tailServerLine } from './delivery-notes.js';

const CHAT = 'ABCDE-FGHJK';
const onMulticast: DeliveryState = { chat: CHAT, path: 'multicast', multicast: true, reason: '', since: 1 };
const onServer = (reason: string): DeliveryState => ({ chat: CHAT, path: 'server', multicast: false, reason, since: 2 });

describe('the lines tail and chat print when a chat changes path', () => {
  it('says nothing for a first verdict of multicast, or for a verdict that changes nothing', () => {
    expect(tailDeliveryLine(onMulticast, undefined)).toBeUndefined();
    expect(tailDeliveryLine(onMulticast, onMulticast)).toBeUndefined();
    expect(tailDeliveryLine(onServer('a'), onServer('b'))).toBeUndefined();
  });

  it('says a first verdict of server push, with the reason', () => {
    expect(tailDeliveryLine(onServer('no probe came back by multicast within 2 s'), undefined)).toBe(
      `chorus: ${CHAT}: messages now come through the server (multicast does not reach this computer: no probe came back by multicast within 2 s)`,
    );
  });

  it('says the switch to the server and the way back', () => {
    expect(tailDeliveryLine(onServer('cannot join 239.255.1.2:24001: EADDRNOTAVAIL.'), onMulticast)).toBe(
      `chorus: ${CHAT}: messages now come through the server (multicast does not reach this computer: cannot join 239.255.1.2:24001: EADDRNOTAVAIL)`,
    );
    expect(tailDeliveryLine(onMulticast, onServer('x'))).toBe(`chorus: ${CHAT}: messages arrive by multicast again`);
    expect(chatDeliveryLine(onMulticast, onServer('x'))).toBe('  … messages arrive by multicast again');
  });

  it('keeps the reason on one terminal-safe line, and reads well without one', () => {
    expect(tailDeliveryLine(onServer('bad\u001b[2Jthing\nnext'), undefined)).toBe(
      `chorus: ${CHAT}: messages now come through the server (multicast does not reach this computer: bad\uFFFD[2Jthing next)`,
    );
    expect(chatDeliveryLine(onServer(''), undefined)).toBe('  … messages now come through the server (multicast does not reach this computer)');
  });

  it('announceDelivery remembers each chat apart', () => {
    const said: string[] = [];
    const listener = announceDelivery((line) => said.push(line), tailDeliveryLine);
    const other = 'KLMNP-QRSTV';
    listener(onMulticast);
    listener({ ...onServer('r'), chat: other });
    listener(onServer('r'));
    listener(onServer('r'));
    listener({ ...onMulticast, chat: other });
    expect(said).toEqual([
      `chorus: ${other}: messages now come through the server (multicast does not reach this computer: r)`,
      `chorus: ${CHAT}: messages now come through the server (multicast does not reach this computer: r)`,
      `chorus: ${other}: messages arrive by multicast again`,
    ]);
  });
});

describe('the lines tail and chat print when the client moves to another server', () => {
  const A = { url: 'https://10.0.1.5:6789' };
  const B = { url: 'https://10.0.2.5:6789' };
  const C = { url: 'https://10.0.3.5:6789' };

  it('says which server does not answer, which one is used now, and that home is asked again', () => {
    expect(tailServerLine(B, A, A)).toBe('chorus: https://10.0.1.5:6789 does not answer: now using https://10.0.2.5:6789, until it answers again');
    expect(chatServerLine(C, B, A)).toBe('  … https://10.0.2.5:6789 does not answer: now using https://10.0.3.5:6789');
  });

  it('says when it is back home', () => {
    expect(tailServerLine(A, B, A)).toBe('chorus: back on the home server https://10.0.1.5:6789');
  });
});
