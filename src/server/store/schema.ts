import type { Generated } from 'kysely';

/**
 * The tables, as Kysely sees them. Times are milliseconds since the epoch (bigint columns) and
 * sequence numbers are bigint too; both engines hand them back as JS numbers (see database.ts).
 */
export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  chats: ChatsTable;
  memberships: MembershipsTable;
  chat_bans: ChatBansTable;
  messages: MessagesTable;
  read_positions: ReadPositionsTable;
  cluster_servers: ClusterServersTable;
  /** One row: the cluster's name on the bus, and the secret its servers authenticate bus messages with. */
  cluster_identity: { id: string; secret: string };
}

export interface UsersTable {
  id: Generated<number>;
  name: string;
  email: string;
  password_hash: string;
  created_at: number;
  /** 1: the user's read positions are shown to other members (the default); 0: to nobody. */
  share_receipts: Generated<number>;
}

export interface SessionsTable {
  /** SHA-256 of the bearer token: a stolen database does not hand out live sessions. */
  token_hash: string;
  user_id: number;
  created_at: number;
  expires_at: number;
}

export interface ChatsTable {
  /** Canonical chat code (10 Crockford base32 characters, no dash). */
  code: string;
  name: string;
  created_by: number;
  created_at: number;
  /** The highest sequence number committed in this chat (0: none yet). */
  last_seq: number;
  multicast_group: string;
  multicast_port: number;
  /** Bumped whenever the chat's multicast key changes; keys themselves are never stored. */
  key_epoch: number;
  /** Names the chat in datagram headers: 10 random bytes as 20 hex characters, unique, unrelated to the code. */
  stream_id: string;
  /** Cluster mode: the server whose lease makes it the chat's sequencer (null: none yet). */
  lease_owner: string | null;
  /** Cluster mode: the fencing token, bumped at every takeover; a commit names the one it holds. */
  lease_epoch: Generated<number>;
  /** Bumped at every removal of a member: other servers of a cluster drop their cached members and key. */
  membership_version: Generated<number>;
}

/** Cluster mode: the servers alive; a server's leases hold while its row has not expired. */
export interface ClusterServersTable {
  /** Random per process start: a restarted server is a new one and takes its leases anew. */
  id: string;
  site: string;
  started_at: number;
  /** Milliseconds since the epoch, on the database's clock. */
  expires_at: number;
}

export interface MembershipsTable {
  chat_code: string;
  user_id: number;
  joined_at: number;
}

/** Users the chat's creator removed: they may not join again while the row is here. */
export interface ChatBansTable {
  chat_code: string;
  user_id: number;
  banned_at: number;
  banned_by: number;
}

export interface MessagesTable {
  chat_code: string;
  seq: number;
  sender_id: number;
  text: string;
  sent_at: number;
  client_msg_id: string;
}

/** One row per member and chat: the highest seq the member has seen (read-positions.ts coalesces writes). */
export interface ReadPositionsTable {
  chat_code: string;
  user_id: number;
  seq: number;
  updated_at: number;
}
