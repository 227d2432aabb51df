/**
 * The single DynamoDB table: key names, the one secondary index, and how each entity is keyed.
 * Access patterns (none of them scans):
 *   token by public id ............ GetItem  pk=TOKEN#<tokenId>, sk=TOKEN
 *   user by id ..................... GetItem  pk=USER#<userId>,   sk=PROFILE
 *   user id by name ................ GetItem  pk=USERNAME#<name>, sk=USERNAME (also enforces unique names)
 *   a user's tokens, newest first .. Query    gsi1: gsi1pk=USER#<userId>#TOKENS
 *   all users by name .............. Query    gsi1: gsi1pk=USERS
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
};
