import { Algorithm, hash, verify } from '@node-rs/argon2';

// OWASP's recommended Argon2id setting: 19 MiB of memory, 2 iterations, 1 lane.
const ARGON2ID = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(password, ARGON2ID);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the same time as a real check, for a login whose email is unknown, so that response
 * time does not tell an attacker which emails are registered.
 */
export async function burnVerifyTime(password: string): Promise<void> {
  dummyHash ??= hashPassword('chorus-dummy-password');
  await verifyPassword(await dummyHash, password);
}
