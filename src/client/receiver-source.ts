import type { ApiClient } from './api.js';
import type { ReceiverSource } from './receiver.js';

/** What the Receiver needs from the server (chat keys and groups, history for repair), over the API client. */
export function apiReceiverSource(api: ApiClient): ReceiverSource {
  return {
    chatInfo: async (code) => {
      const chat = await api.getChat(code);
      if (!chat.multicast) throw new Error(`the server did not say where chat ${code} is multicast`);
      return { code: chat.code, multicast: chat.multicast };
    },
    history: async (code, page) => {
      if ('after' in page) return api.listMessages(code, { after: page.after, limit: page.limit });
      // The latest N; with N = 0 only the latest seq, so reception starts after it.
      const latest = await api.listMessages(code, { limit: Math.max(1, page.latest) });
      return page.latest === 0 ? { messages: [], latestSeq: latest.latestSeq } : latest;
    },
  };
}
