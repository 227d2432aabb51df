/** Who may open the operator page: the admin group, the mapped IdP groups for federated users only, local marks. */
import { isAdmin, parseGroupList } from '../../lambda/auth/admin-access.js';

const options = { group: 'ormcp-admins', claim: 'custom:groups' };

test('a member of the Cognito admin group is an admin; other groups are not', () => {
  expect(isAdmin(options, { groups: ['staff', 'ormcp-admins'] }, {})).toBe(true);
  expect(isAdmin(options, { groups: ['staff', 'ormcp-admins-2'] }, {})).toBe(false);
  expect(isAdmin(options, undefined, undefined)).toBe(false);
});

test('the mapped groups claim counts only for a federated user (a password user can write their own attributes)', () => {
  expect(isAdmin(options, { federated: true, mapped: '[staff, ormcp-admins]' }, {})).toBe(true);
  expect(isAdmin(options, { federated: false, mapped: '[staff, ormcp-admins]' }, {})).toBe(false);
  expect(isAdmin(options, { mapped: 'ormcp-admins' }, {})).toBe(false);
  // Without a configured claim the mapped value is ignored even for a federated user.
  expect(isAdmin({ group: 'ormcp-admins' }, { federated: true, mapped: 'ormcp-admins' }, {})).toBe(false);
});

test('a user the operator marked is an admin; without a group only marked users are', () => {
  expect(isAdmin({}, { groups: ['ormcp-admins'] }, {})).toBe(false);
  expect(isAdmin({}, undefined, { admin: true })).toBe(true);
});

test('group lists: Cognito brackets, JSON arrays, commas; no partial matches', () => {
  expect(parseGroupList('[a, ormcp-admins]')).toEqual(['a', 'ormcp-admins']);
  expect(parseGroupList('["a","b c"]')).toEqual(['a', 'b c']);
  expect(parseGroupList('a,b')).toEqual(['a', 'b']);
  expect(parseGroupList('ormcp-admins-x')).toEqual(['ormcp-admins-x']);
  expect(parseGroupList('')).toEqual([]);
});
