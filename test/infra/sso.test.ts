/**
 * Company sign-in: SAML and OIDC identity providers federated into the user pool, asserted on the synthesized
 * template (providers, attribute mapping, managed-login buttons, password sign-in off, the operator group and its
 * claim in the Lambda environment), plus the context validation around them.
 */
import { App } from 'aws-cdk-lib';
import { readConfig } from '../../infra/config.js';
import { GROUPS_ATTRIBUTE, SAML_EMAIL_ATTRIBUTE, SAML_NAME_ATTRIBUTE } from '../../infra/constructs/user-pool.js';
import { onlyResource, resourcesOf, synth, type Synthesized } from './support/synth.js';

const ENTRA_METADATA = 'https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/federationmetadata/2007-06/federationmetadata.xml?appid=11111111-1111-1111-1111-111111111111';
const ENTRA_GROUPS = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups';
const GOOGLE_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ormcp/google-oidc-AbCdEf';

const PROVIDERS = [
  { type: 'saml', name: 'Entra', metadataUrl: ENTRA_METADATA, groupsAttribute: ENTRA_GROUPS, domains: ['example.com'], idpSignout: true },
  { type: 'saml', name: 'Okta', metadataFile: 'test/infra/fixtures/saml-metadata.xml', emailAttribute: 'email', nameAttribute: 'displayName', groupsAttribute: 'groups' },
  { type: 'oidc', name: 'GoogleWorkspace', issuer: 'https://accounts.google.com', clientId: '1234-abc.apps.googleusercontent.com', clientSecret: GOOGLE_SECRET_ARN, clientSecretField: 'clientSecret' },
  { type: 'oidc', name: 'OktaOidc', issuer: 'https://example.okta.com', clientId: '0oa1example', clientSecret: 'ormcp/okta-oidc', scopes: ['openid', 'email', 'profile', 'groups'], groupsAttribute: 'groups' },
];

function providersByName(s: Synthesized): Record<string, any> {
  return Object.fromEntries(Object.values(resourcesOf(s.json, 'AWS::Cognito::UserPoolIdentityProvider')).map((r) => [r.Properties.ProviderName, r]));
}

/** The client's provider list with each provider reference resolved to its provider name. */
function clientProviders(s: Synthesized): string[] {
  const list = onlyResource(s.json, 'AWS::Cognito::UserPoolClient')[1].Properties.SupportedIdentityProviders as Array<string | { Ref: string }>;
  return list.map((p) => (typeof p === 'string' ? p : s.json.Resources[p.Ref].Properties.ProviderName));
}

function lambdaEnv(s: Synthesized): Record<string, unknown> {
  return onlyResource(s.json, 'AWS::Lambda::Function')[1].Properties.Environment.Variables;
}

describe('default: no federation, password sign-in, the operator group exists', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth();
  });

  test('no identity provider; the app client offers Cognito only; no custom attribute added to the pool', () => {
    expect(resourcesOf(s.json, 'AWS::Cognito::UserPoolIdentityProvider')).toEqual({});
    expect(onlyResource(s.json, 'AWS::Cognito::UserPoolClient')[1].Properties.SupportedIdentityProviders).toEqual(['COGNITO']);
    const schema = (onlyResource(s.json, 'AWS::Cognito::UserPool')[1].Properties.Schema ?? []) as any[];
    expect(schema.map((a) => a.Name)).not.toContain('groups');
  });

  test('the Cognito group ormcp-admins exists and the function knows its name, but no IdP claim', () => {
    const [poolId] = onlyResource(s.json, 'AWS::Cognito::UserPool');
    const [, group] = onlyResource(s.json, 'AWS::Cognito::UserPoolGroup');
    expect(group.Properties).toMatchObject({ GroupName: 'ormcp-admins', UserPoolId: { Ref: poolId } });
    expect(lambdaEnv(s).ORMCP_ADMIN_GROUP).toBe('ormcp-admins');
    expect(lambdaEnv(s).ORMCP_ADMIN_CLAIM).toBeUndefined();
  });
});

describe('context: SAML (URL and file) and OIDC providers, password sign-in off, a custom admin group', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({ identityProviders: JSON.stringify(PROVIDERS), cognitoPasswordSignIn: 'false', adminGroup: 'mcp-operators' });
  });

  test('every provider is federated into the user pool', () => {
    const [poolId] = onlyResource(s.json, 'AWS::Cognito::UserPool');
    const byName = providersByName(s);
    expect(Object.keys(byName).sort()).toEqual(['Entra', 'GoogleWorkspace', 'Okta', 'OktaOidc']);
    for (const p of Object.values(byName)) expect(p.Properties.UserPoolId).toEqual({ Ref: poolId });
  });

  test('SAML from a metadata URL: email, name and groups mapped, IdP sign-out, email-domain discovery', () => {
    const p = providersByName(s).Entra.Properties;
    expect(p.ProviderType).toBe('SAML');
    expect(p.ProviderDetails).toMatchObject({ MetadataURL: ENTRA_METADATA, IDPSignout: true });
    // No email_verified: SAML has no such claim.
    expect(p.AttributeMapping).toEqual({ email: SAML_EMAIL_ATTRIBUTE, name: SAML_NAME_ATTRIBUTE, [GROUPS_ATTRIBUTE]: ENTRA_GROUPS });
    expect(p.IdpIdentifiers).toEqual(['example.com']);
  });

  test('SAML from a metadata file: the XML is inlined, the attribute names are the ones given', () => {
    const p = providersByName(s).Okta.Properties;
    expect(p.ProviderType).toBe('SAML');
    expect(p.ProviderDetails.MetadataFile).toMatch(/<md:EntityDescriptor[^>]+entityID="https:\/\/idp\.example\.com\/saml"/);
    expect(p.ProviderDetails.IDPSignout).toBe(false);
    expect(p.AttributeMapping).toEqual({ email: 'email', name: 'displayName', [GROUPS_ATTRIBUTE]: 'groups' });
  });

  test('OIDC: issuer, client id, default scopes, and the client secret only as a Secrets Manager reference', () => {
    const p = providersByName(s).GoogleWorkspace.Properties;
    expect(p.ProviderType).toBe('OIDC');
    expect(p.ProviderDetails).toMatchObject({
      oidc_issuer: 'https://accounts.google.com',
      client_id: '1234-abc.apps.googleusercontent.com',
      authorize_scopes: 'openid email profile',
      attributes_request_method: 'GET',
    });
    expect(p.ProviderDetails.client_secret).toBe(`{{resolve:secretsmanager:${GOOGLE_SECRET_ARN}:SecretString:clientSecret::}}`);
    expect(p.AttributeMapping).toEqual({ email: 'email', name: 'name', email_verified: 'email_verified' });
    const okta = providersByName(s).OktaOidc.Properties;
    expect(okta.ProviderDetails.client_secret).toBe('{{resolve:secretsmanager:ormcp/okta-oidc:SecretString:::}}');
    expect(okta.ProviderDetails.authorize_scopes).toBe('openid email profile groups');
    expect(okta.AttributeMapping[GROUPS_ATTRIBUTE]).toBe('groups');
  });

  test('managed login shows every provider and not Cognito passwords; the client is created after the providers', () => {
    const [clientId, client] = onlyResource(s.json, 'AWS::Cognito::UserPoolClient');
    expect(clientProviders(s)).toEqual(['Entra', 'Okta', 'GoogleWorkspace', 'OktaOidc']);
    const providerIds = Object.keys(resourcesOf(s.json, 'AWS::Cognito::UserPoolIdentityProvider'));
    expect(client.DependsOn).toEqual(expect.arrayContaining(providerIds));
    expect(clientId).toBeDefined();
    // Nobody can sign themselves up with a Cognito password either.
    expect(onlyResource(s.json, 'AWS::Cognito::UserPool')[1].Properties.AdminCreateUserConfig).toEqual({ AllowAdminCreateUserOnly: true });
  });

  test('the pool gains the mutable custom:groups attribute the mapping writes to, and nothing else in its schema changes', () => {
    const schema = onlyResource(s.json, 'AWS::Cognito::UserPool')[1].Properties.Schema as any[];
    expect(schema.map((a) => a.Name).sort()).toEqual(['email', 'groups']);
    expect(schema.find((a) => a.Name === 'groups')).toEqual({
      Name: 'groups',
      AttributeDataType: 'String',
      Mutable: true,
      StringAttributeConstraints: { MinLength: '0', MaxLength: '2048' },
    });
  });

  test('the app client may write exactly the mapped attributes (Cognito writes mappings through it)', () => {
    const [, client] = onlyResource(s.json, 'AWS::Cognito::UserPoolClient');
    expect([...client.Properties.WriteAttributes].sort()).toEqual(['custom:groups', 'email', 'email_verified', 'name']);
  });

  test('the operator group takes the configured name, and the function learns the group and the claim', () => {
    expect(onlyResource(s.json, 'AWS::Cognito::UserPoolGroup')[1].Properties.GroupName).toBe('mcp-operators');
    expect(lambdaEnv(s)).toMatchObject({ ORMCP_ADMIN_GROUP: 'mcp-operators', ORMCP_ADMIN_CLAIM: GROUPS_ATTRIBUTE });
  });

  test('no secret value in the template, and cdk-nag stays clean', () => {
    expect(JSON.stringify(s.json)).not.toMatch(/"client_secret":"(?!\{\{resolve:secretsmanager:)/);
    expect(s.nag.violations).toEqual([]);
  });
});

describe('context: a provider next to Cognito passwords, no group mapping', () => {
  let s: Synthesized;
  beforeAll(() => {
    s = synth({ identityProviders: [PROVIDERS[2]], selfSignUp: 'true' });
  });

  test('managed login offers the provider and Cognito; self sign-up stays as configured; no admin claim', () => {
    expect(clientProviders(s)).toEqual(['GoogleWorkspace', 'COGNITO']);
    expect(onlyResource(s.json, 'AWS::Cognito::UserPool')[1].Properties.AdminCreateUserConfig).toEqual({ AllowAdminCreateUserOnly: false });
    expect(lambdaEnv(s).ORMCP_ADMIN_CLAIM).toBeUndefined();
    // Without a groups mapping the client keeps Cognito's default (standard attributes writable).
    expect(onlyResource(s.json, 'AWS::Cognito::UserPoolClient')[1].Properties.WriteAttributes).toBeUndefined();
    expect(s.nag.violations).toEqual([]);
  });
});

describe('context validation: identity providers', () => {
  const configFor = (context: Record<string, unknown>) => readConfig(new App({ context }).node);
  const oidc = PROVIDERS[2]!;
  const saml = PROVIDERS[0]!;

  test('a JSON string (from -c) and a JSON list (from cdk.json) read the same', () => {
    expect(configFor({ identityProviders: JSON.stringify([oidc]) }).identityProviders).toEqual(configFor({ identityProviders: [oidc] }).identityProviders);
    expect(configFor({}).identityProviders).toEqual([]);
    expect(configFor({}).cognitoPasswordSignIn).toBe(true);
    expect(configFor({}).adminGroup).toBe('ormcp-admins');
  });

  test.each([
    ['not JSON', { identityProviders: '[{type:' }, /"identityProviders" must be JSON/],
    ['an unknown type', { identityProviders: [{ ...oidc, type: 'ldap' }] }, /identityProviders/],
    ['a reserved name', { identityProviders: [{ ...oidc, name: 'Google' }] }, /reserved/],
    ['a name with spaces', { identityProviders: [{ ...oidc, name: 'My IdP' }] }, /identityProviders"\[0\.name\]/],
    ['a name shorter than Cognito allows', { identityProviders: [{ ...oidc, name: 'Ok' }] }, /3-32/],
    ['duplicate names', { identityProviders: [oidc, { ...saml, name: oidc.name }] }, /unique/],
    ['an http issuer', { identityProviders: [{ ...oidc, issuer: 'http://idp.example.com' }] }, /issuer.*https/],
    ['a literal client secret', { identityProviders: [{ ...oidc, clientSecret: 'super secret value!' }] }, /clientSecret.*Secrets Manager/],
    ['an unknown key (a typo)', { identityProviders: [{ ...oidc, clientSecretArn: GOOGLE_SECRET_ARN }] }, /identityProviders/],
    ['SAML with both URL and file', { identityProviders: [{ ...saml, metadataFile: 'x.xml' }] }, /exactly one of metadataUrl and metadataFile/],
    ['SAML with neither', { identityProviders: [{ type: 'saml', name: 'Entra' }] }, /exactly one of metadataUrl and metadataFile/],
    ['password sign-in off without a provider', { cognitoPasswordSignIn: 'false' }, /at least one entry in "identityProviders"/],
    ['self sign-up without password sign-in', { identityProviders: [oidc], cognitoPasswordSignIn: false, selfSignUp: true }, /selfSignUp/],
    ['an admin group with spaces', { adminGroup: 'mcp admins' }, /adminGroup/],
  ])('rejects %s', (_what, context, message) => {
    expect(() => configFor(context)).toThrow(message);
  });

  test('a SAML metadata file that is missing or not SAML fails the synth with the provider named', () => {
    expect(() => synth({ identityProviders: [{ type: 'saml', name: 'Okta', metadataFile: 'test/infra/fixtures/no-such.xml' }] })).toThrow(/"Okta": cannot read metadataFile/);
    expect(() => synth({ identityProviders: [{ type: 'saml', name: 'Okta', metadataFile: 'package.json' }] })).toThrow(/"Okta": .* is not SAML metadata/);
  });
});
