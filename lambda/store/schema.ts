/**
 * The single DynamoDB table: key names, the one secondary index, and how each entity is keyed.
 * Access patterns (none of them scans):
 *   token by public id ............ GetItem  pk=TOKEN#<tokenId>, sk=TOKEN
 *   user by id ..................... GetItem  pk=USER#<userId>,   sk=PROFILE
 *   user id by name ................ GetItem  pk=USERNAME#<name>, sk=USERNAME (also enforces unique names)
 *   a user's tokens, newest first .. Query    gsi1: gsi1pk=USER#<userId>#TOKENS
 *   all users by name .............. Query    gsi1: gsi1pk=USERS
 *   user id by sign-in identity .... GetItem  pk=IDENTITY#<issuer>#<subject>, sk=IDENTITY
 *   OAuth grant (one per client
 *     authorization) ............... GetItem  pk=GRANT#<grantId>, sk=GRANT
 *   a user's OAuth grants .......... Query    gsi1: gsi1pk=USER#<userId>#GRANTS
 *   registered OAuth client ........ GetItem  pk=OAUTHCLIENT#<clientId>, sk=CLIENT
 *   authorization code ............. GetItem  pk=OAUTHCODE#<keyed digest of the code>, sk=CODE
 *   refresh token by public id ..... GetItem  pk=REFRESH#<tokenId>, sk=REFRESH
 *   a user's limits ................ UpdateItem pk=LIMIT#<userId>, sk=STATE: this minute's call count
 *                                    `r_<window start>` and one `l_<leaseId>` = expiry per running generation with
 *                                    their count `c`; one conditional write counts a call and takes its lease
 *                                    together; release, renew; on a refusal GetItem + conditional REMOVE of
 *                                    lapsed leases (see lambda/limits/dynamo-limiter.ts)
 *   a user's calls this minute ..... UpdateItem pk=LIMIT#<userId>, sk=RATE#<window start, epoch ms>: ADD n 1 if n < max
 *   a user's running generations ... UpdateItem pk=LIMIT#<userId>, sk=CONCURRENCY: one `l_<leaseId>` = expiry per
 *                                    running call plus their count `n`; take if n < max, release, renew; GetItem
 *                                    + conditional REMOVE of lapsed leases (see lambda/limits/dynamo-limiter.ts)
 *   a user's ledger records by time  Query    pk=USER#<userId>, sk BETWEEN LEDGER#<from ISO time> AND LEDGER#<to ISO time>~
 *                                    (one record per tool call that reached or was refused before OpenRouter; TTL)
 *   a user's spend per window ...... UpdateItem ADD pk=USER#<userId>, sk=USAGE#D#<YYYY-MM-DD> | USAGE#W#<YYYY-Www> |
 *                                    USAGE#M#<YYYY-MM>; the three current ones in one BatchGet; days by Query range
 *   a user's spend per model a day . UpdateItem ADD pk=USER#<userId>, sk=USAGE#DM#<YYYY-MM-DD>#<model>; Query range
 *   a user's budget override ....... GetItem  pk=USER#<userId>, sk=BUDGET
 *   a user's own defaults .......... GetItem  pk=USER#<userId>, sk=DEFAULTS
 *   a record whose cost is missing . GetItem  pk=USER#<userId>, sk=GENCOST#<generation id> → the record's time and id
 *   (see lambda/store/ledger-store.ts)
 *   a user's conversations ......... Query    pk=USER#<userId>, begins_with(sk, CONV#) (heads, newest first; GetItem
 *                                    one, its turns inline when small); larger turns: Query pk=USER#<userId>,
 *                                    begins_with(sk, CONVPART#<id>#<snapshot>#)
 *                                    (encrypted, split in parts under the item limit; TTL; see conversation-store.ts)
 * Items expire through the `ttl` attribute (epoch seconds) once a token has been expired or revoked a while.
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  index: { name: 'gsi1', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  ttlAttribute: 'ttl',
} as const;

export const keys = {
  user: (userId: string) => ({ pk: `USER#${userId}`, sk: 'PROFILE' }),
  userName: (name: string) => ({ pk: `USERNAME#${name}`, sk: 'USERNAME' }),
  token: (tokenId: string) => ({ pk: `TOKEN#${tokenId}`, sk: 'TOKEN' }),
  usersIndex: () => 'USERS',
  userTokensIndex: (userId: string) => `USER#${userId}#TOKENS`,
  identity: (issuer: string, subject: string) => ({ pk: `IDENTITY#${issuer}#${subject}`, sk: 'IDENTITY' }),
  grant: (grantId: string) => ({ pk: `GRANT#${grantId}`, sk: 'GRANT' }),
  userGrantsIndex: (userId: string) => `USER#${userId}#GRANTS`,
  oauthClient: (clientId: string) => ({ pk: `OAUTHCLIENT#${clientId}`, sk: 'CLIENT' }),
  authorizationCode: (digest: string) => ({ pk: `OAUTHCODE#${digest}`, sk: 'CODE' }),
  refreshToken: (tokenId: string) => ({ pk: `REFRESH#${tokenId}`, sk: 'REFRESH' }),
  /** A user's rate count and concurrency leases together. (The earlier `RATE#<window>` and `CONCURRENCY` items only expire.) */
  limits: (userId: string) => ({ pk: `LIMIT#${userId}`, sk: 'STATE' }),
  // ---- team control: the ledger, usage aggregates, budget overrides and defaults, all beside the user ----
  ledgerRecord: (userId: string, time: string, recordId: string) => ({ pk: `USER#${userId}`, sk: `LEDGER#${time}#${recordId}` }),
  ledgerPrefix: () => 'LEDGER#',
  usageWindow: (userId: string, window: 'daily' | 'weekly' | 'monthly', windowKey: string) => ({ pk: `USER#${userId}`, sk: `USAGE#${USAGE_WINDOW_CODE[window]}#${windowKey}` }),
  usageModelDay: (userId: string, day: string, model: string) => ({ pk: `USER#${userId}`, sk: `USAGE#DM#${day}#${model}` }),
  budgetOverride: (userId: string) => ({ pk: `USER#${userId}`, sk: 'BUDGET' }),
  userDefaults: (userId: string) => ({ pk: `USER#${userId}`, sk: 'DEFAULTS' }),
  // ---- conversations that continue: one head per conversation, its turns in parts beside it ----
  generationCost: (userId: string, generationId: string) => ({ pk: `USER#${userId}`, sk: `GENCOST#${generationId}` }),
  conversation: (userId: string, conversationId: string) => ({ pk: `USER#${userId}`, sk: `CONV#${conversationId}` }),
  conversationPrefix: () => 'CONV#',
  conversationPart: (userId: string, conversationId: string, snapshot: string, part: number) => ({ pk: `USER#${userId}`, sk: `CONVPART#${conversationId}#${snapshot}#${String(part).padStart(3, '0')}` }),
  conversationPartsPrefix: (conversationId: string) => `CONVPART#${conversationId}#`,
};

/** The window letter in a usage item's sort key. */
export const USAGE_WINDOW_CODE = { daily: 'D', weekly: 'W', monthly: 'M' } as const;
