/**
 * A chat message as every part of Chorus shows it: the history API returns it, the receiver
 * delivers it, the TCP `message` frame carries it and the web UI draws it. One shape, so that a
 * message moves between them without translation.
 */
export interface ChatMessage {
  /** The chat's code, XXXXX-XXXXX. */
  chat: string;
  seq: number;
  sender: { id: number; name: string };
  text: string;
  /** ISO 8601, as the server stamped it at commit. */
  sentAt: string;
  /** The sender's own id for the message (retries carry the same one). */
  clientMsgId: string;
}
