import type { LimitPolicy } from './policy';

/** A key's own policy and its user's, read together; what the effective policy is built from. */
export interface KeyPolicies {
  keyId: string;
  userId: string;
  /** Null when nothing was ever set on the user (the same as every field null). */
  user: LimitPolicy | null;
  key: LimitPolicy | null;
}

export interface PolicyStore {
  /** Both policies of a key in one read; undefined when there is no such key. */
  findForKey(keyId: string): Promise<KeyPolicies | undefined>;
  /** The user's own policy (every field null when none was set); undefined when there is no such user. */
  getUser(userId: string): Promise<LimitPolicy | undefined>;
  /** Replaces the user's policy as a whole (a null field: not set); undefined when there is no such user. */
  setUser(userId: string, policy: LimitPolicy): Promise<LimitPolicy | undefined>;
  /** The key's own policy and its owner; undefined when there is no such key. */
  getKey(keyId: string): Promise<{ userId: string; policy: LimitPolicy } | undefined>;
  /** Replaces the key's policy as a whole; undefined when there is no such key. */
  setKey(keyId: string, policy: LimitPolicy): Promise<{ userId: string; policy: LimitPolicy } | undefined>;
}
