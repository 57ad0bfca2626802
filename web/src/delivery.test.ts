import { describe, expect, it } from 'vitest';
import type { UiChat } from '../../src/agent/ui-protocol.js';
import { deliveryText } from './delivery.js';
import { initialState, reduce } from './state.js';

const chat = (code: string, name: string): UiChat => ({ code, name, memberCount: 2, latestSeq: 0, unread: 0, readSeq: 0, createdBy: 1 });

describe('how a chat\'s messages arrive, in the chat header', () => {
  it('says "Live" on multicast, and "Live via the server" with the reason when multicast does not arrive', () => {
    expect(deliveryText({ path: 'multicast', reason: '' }, 'connected').label).toBe('Live');
    const server = deliveryText({ path: 'server', reason: 'no probe came back by multicast within 2 s.' }, 'connected');
    expect(server.label).toBe('Live via the server');
    expect(server.explanation).toMatch(/^Multicast does not reach this computer \(no probe came back by multicast within 2 s\), so the server sends/);
    expect(deliveryText({ path: 'server', reason: '' }, 'connected').explanation).toMatch(/^Multicast does not reach this computer, so/);
  });

  it('says "Offline", never Live, while the connection to the server is down', () => {
    for (const path of ['multicast', 'server'] as const) {
      for (const connection of ['disconnected', 'connecting'] as const) {
        expect(deliveryText({ path, reason: '' }, connection)).toMatchObject({ kind: 'offline', label: 'Offline' });
      }
    }
  });

  it('a delivery push changes that chat only; the chat list the agent sends on connect carries it already', () => {
    let state = reduce(initialState, { type: 'push', push: { type: 'chats', chats: [chat('AAAAA-AAAAA', 'A'), { ...chat('BBBBB-BBBBB', 'B'), delivery: { path: 'multicast', reason: '' } }] } });
    expect(state.chats.map((c) => c.delivery)).toEqual([undefined, { path: 'multicast', reason: '' }]);
    state = reduce(state, { type: 'push', push: { type: 'delivery', chat: 'BBBBB-BBBBB', path: 'server', reason: 'r' } });
    expect(state.chats.map((c) => c.delivery)).toEqual([undefined, { path: 'server', reason: 'r' }]);
    // Unknown chat (left meanwhile): nothing changes.
    expect(reduce(state, { type: 'push', push: { type: 'delivery', chat: 'CCCCC-CCCCC', path: 'server', reason: 'r' } })).toBe(state);
  });
});
