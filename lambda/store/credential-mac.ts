/**
 * Verifying a stored credential's MAC, bound form or legacy form, and upgrading a legacy MAC in place. Shared by
 * the account store (MCP tokens) and the OAuth store (refresh tokens).
 *
 * Migration: items written before MACs were bound carry the legacy MAC over `tokenId.secret`. Such an item is
 * accepted once more — as its claims stand at that moment — and its MAC is replaced by the bound one with a
 * conditional update (only if the MAC is still the legacy one), so from then on a rewrite of any claim fails.
 */
import { boundCredentialMac, isBoundMac, verifyBoundCredentialMac, verifyTokenSecret, type CredentialClaims, type DerivedKeys } from '../crypto/secrets.js';
import type { ItemKey, Table } from './table.js';

export interface StoredCredential {
  /** Which kind of record ("token", "refresh"): part of the MAC, so one kind's MAC never verifies as another. */
  record: string;
  id: string;
  secret: string;
  claims: CredentialClaims;
  /** The MAC attribute as stored. */
  mac: string;
}

export type MacVerdict = 'bound' | 'legacy' | 'invalid';

/** Pure: whether the presented secret and the item's current claims match its stored MAC, and in which form. */
export function checkCredentialMac(keys: DerivedKeys, c: StoredCredential): MacVerdict {
  if (isBoundMac(c.mac)) return verifyBoundCredentialMac(keys.tokenHmacKey, c.record, c.id, c.secret, c.claims, c.mac) ? 'bound' : 'invalid';
  return verifyTokenSecret(keys.tokenHmacKey, c.id, c.secret, c.mac) ? 'legacy' : 'invalid';
}

/**
 * Replaces a verified legacy MAC with the bound MAC over the same claims, under the same secret version (so
 * instances that still run on an older keyring keep verifying it). False when the item changed meanwhile.
 */
export async function upgradeLegacyMac(table: Table, key: ItemKey, attribute: string, keys: DerivedKeys, c: StoredCredential): Promise<boolean> {
  return table.tryUpdate({
    key,
    update: 'SET #mac = :bound',
    condition: '#mac = :legacy',
    names: { '#mac': attribute },
    values: { ':bound': boundCredentialMac(keys.tokenHmacKey, c.record, c.id, c.secret, c.claims), ':legacy': c.mac },
  });
}
