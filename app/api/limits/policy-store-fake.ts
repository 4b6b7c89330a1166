import { UNSET_POLICY, type LimitPolicy } from './policy';
import type { KeyPolicies, PolicyStore } from './policy-store';

/** In-memory PolicyStore for unit tests: `users` and `keys` (key id -> user id) say what exists. */
export class FakePolicyStore implements PolicyStore {
  readonly users = new Set<string>();
  readonly keys = new Map<string, string>();
  readonly userPolicies = new Map<string, LimitPolicy>();
  readonly keyPolicies = new Map<string, LimitPolicy>();
  reads = 0;
  failing: Error | undefined;

  addKey(keyId: string, userId: string): void {
    this.users.add(userId);
    this.keys.set(keyId, userId);
  }

  async findForKey(keyId: string): Promise<KeyPolicies | undefined> {
    this.reads += 1;
    if (this.failing) throw this.failing;
    const userId = this.keys.get(keyId);
    if (userId === undefined) return undefined;
    return {
      keyId,
      userId,
      user: copy(this.userPolicies.get(userId)),
      key: copy(this.keyPolicies.get(keyId)),
    };
  }

  async getUser(userId: string): Promise<LimitPolicy | undefined> {
    if (!this.users.has(userId)) return undefined;
    return copy(this.userPolicies.get(userId)) ?? { ...UNSET_POLICY };
  }

  async setUser(userId: string, policy: LimitPolicy): Promise<LimitPolicy | undefined> {
    if (!this.users.has(userId)) return undefined;
    this.userPolicies.set(userId, copy(policy)!);
    return copy(policy)!;
  }

  async getKey(keyId: string): Promise<{ userId: string; policy: LimitPolicy } | undefined> {
    const userId = this.keys.get(keyId);
    if (userId === undefined) return undefined;
    return { userId, policy: copy(this.keyPolicies.get(keyId)) ?? { ...UNSET_POLICY } };
  }

  async setKey(
    keyId: string,
    policy: LimitPolicy,
  ): Promise<{ userId: string; policy: LimitPolicy } | undefined> {
    const userId = this.keys.get(keyId);
    if (userId === undefined) return undefined;
    this.keyPolicies.set(keyId, copy(policy)!);
    return { userId, policy: copy(policy)! };
  }
}

function copy(policy: LimitPolicy | undefined): LimitPolicy | null {
  if (!policy) return null;
  return { ...policy, allowedModels: policy.allowedModels ? [...policy.allowedModels] : null };
}
