/**
 * Who may open the operator page. Decided once, at sign-in, and carried in the sealed session:
 *  - a member of the admin group: the ID token's `cognito:groups` (Cognito groups, set by an administrator), or the
 *    groups the user's identity provider sent in the mapped claim (`ORMCP_ADMIN_CLAIM`, e.g. `custom:groups`) —
 *    the mapped claim ONLY for a federated user (the token has an `identities` claim): a password user can write
 *    their own custom attributes through Cognito's user API, so for them it proves nothing;
 *  - or a user the operator marked with `ormcp user admin` (the local server has no groups).
 */
import type { User } from '../store/account-store.js';

export interface AdminAccessOptions {
  /** `ORMCP_ADMIN_GROUP`; without it only users marked by the operator are admins. */
  group?: string;
  /** `ORMCP_ADMIN_CLAIM`: the ID-token claim carrying a federated user's IdP groups. */
  claim?: string;
}

/** The few ID-token claims the decision reads (verified by the identity provider module). */
export interface GroupClaims {
  /** `cognito:groups`. */
  groups?: readonly string[];
  /** Whether the token names the external identity provider the user came through (`identities`). */
  federated?: boolean;
  /** The raw value of the mapped claim (`ORMCP_ADMIN_CLAIM`), when the token has it. */
  mapped?: string;
}

/** The mapped claim's groups: Cognito writes a multi-valued IdP attribute as `[a, b]`; a JSON array or commas also do. */
export function parseGroupList(value: string): string[] {
  const v = value.trim();
  if (v.startsWith('[') && v.endsWith(']')) {
    try {
      const parsed: unknown = JSON.parse(v);
      if (Array.isArray(parsed)) return parsed.filter((x): x is string => typeof x === 'string').map((s) => s.trim()).filter(Boolean);
    } catch {
      // Cognito's `[a, b]` is not JSON: split it below.
    }
    return v.slice(1, -1).split(',').map((s) => s.trim()).filter(Boolean);
  }
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

export function isAdmin(options: AdminAccessOptions, claims: GroupClaims | undefined, user: Pick<User, 'admin'> | undefined): boolean {
  if (user?.admin) return true;
  const group = options.group;
  if (!group || !claims) return false;
  if (claims.groups?.includes(group)) return true;
  return Boolean(options.claim && claims.federated && claims.mapped !== undefined && parseGroupList(claims.mapped).includes(group));
}
