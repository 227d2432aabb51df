/**
 * Who the user is: a Cognito user pool (email sign-in), its managed-login domain (version 2, Cognito's default
 * style) and one app client for the server's OAuth façade (authorization code grant with PKCE, OIDC scopes).
 *
 * Company sign-in: SAML and OIDC providers are federated into the pool and shown on managed login. Each maps the
 * user's email and name, and optionally their groups into `custom:groups`, where the server reads membership of
 * the operator group. Cognito's own password sign-in can be switched off so the company IdP is the only way in.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy, SecretValue, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { checkDomainPrefix, type IdentityProviderConfig } from '../config.js';

/** The user pool attribute an IdP's group list is mapped to (and the ID-token claim the server reads). */
export const GROUPS_ATTRIBUTE = 'custom:groups';

/** SAML attribute names most IdPs use for email and name (WS-Federation claim URIs; Entra ID sends these). */
export const SAML_EMAIL_ATTRIBUTE = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress';
export const SAML_NAME_ATTRIBUTE = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name';

export interface McpUserPoolProps {
  /** The server's public base URL (no trailing slash); `<base>/oauth/callback` is always a callback URL. */
  readonly publicUrl: string;
  /** More allowed callback URLs (absolute). */
  readonly extraCallbackUrls?: string[];
  /** @default false */
  readonly selfSignUp?: boolean;
  /** Require MFA (TOTP) for everyone instead of letting each user opt in. @default false */
  readonly mfaRequired?: boolean;
  /** Cognito prefix domain. @default `<stack name, sanitized>-<account id>` */
  readonly domainPrefix?: string;
  /** Deletion protection and RETAIN. @default true */
  readonly deletionProtection?: boolean;
  /** Federated SAML/OIDC providers. @default none */
  readonly identityProviders?: IdentityProviderConfig[];
  /** Where a SAML provider's `metadataFile` is resolved from. @default cwd */
  readonly projectRoot?: string;
  /** Cognito's own password sign-in on managed login; false needs at least one identity provider. @default true */
  readonly passwordSignIn?: boolean;
  /** The Cognito group of operators. @default ormcp-admins */
  readonly adminGroup?: string;
}

/** `<stack name>-<account>`: lowercase, only [a-z0-9-], without the words Cognito reserves. */
export function defaultDomainPrefix(stackName: string, account: string): string {
  const base =
    stackName
      .toLowerCase()
      .replace(/aws|amazon|cognito/g, '')
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/-+/g, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 50)
      .replace(/-$/, '') || 'ormcp';
  const prefix = `${base}-${account}`;
  return Token.isUnresolved(account) ? prefix : checkDomainPrefix(prefix);
}

export class McpUserPool extends Construct {
  readonly userPool: cognito.UserPool;
  readonly client: cognito.UserPoolClient;
  readonly domain: cognito.UserPoolDomain;
  /** `https://<prefix>.auth.<region>.amazoncognito.com` */
  readonly domainUrl: string;
  readonly callbackUrls: string[];
  readonly providers: cognito.IUserPoolIdentityProvider[] = [];
  readonly adminGroup: cognito.CfnUserPoolGroup;
  /** True when some provider maps its groups into {@link GROUPS_ATTRIBUTE}. */
  readonly mapsGroups: boolean;

  constructor(scope: Construct, id: string, props: McpUserPoolProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const protect = props.deletionProtection ?? true;
    const federated = props.identityProviders ?? [];
    const passwordSignIn = props.passwordSignIn ?? true;
    if (!passwordSignIn && federated.length === 0) throw new Error('password sign-in can only be turned off when an identity provider is configured');
    this.mapsGroups = federated.some((p) => p.groupsAttribute !== undefined);

    this.userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: `${stack.stackName}-users`,
      // Essentials: the lowest plan with managed login (v2). Plus (threat protection) is a paid upgrade.
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      keepOriginal: { email: true },
      // Mapped attributes must be mutable (Cognito rewrites them from the IdP on every federated sign-in); the
      // standard `name` is mutable unless declared otherwise, so it is left undeclared and the schema unchanged.
      standardAttributes: { email: { required: true, mutable: true } },
      // Added only when a provider maps groups, so existing pools keep their schema. Cognito can add a custom
      // attribute to a pool but never remove one: removing groupsAttribute later leaves it in place, unused.
      ...(this.mapsGroups ? { customAttributes: { groups: new cognito.StringAttribute({ minLen: 0, maxLen: 2048, mutable: true }) } } : {}),
      selfSignUpEnabled: passwordSignIn && (props.selfSignUp ?? false),
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      mfa: props.mfaRequired ? cognito.Mfa.REQUIRED : cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: protect,
      removalPolicy: protect ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    for (const provider of federated) this.providers.push(this.addProvider(provider, props.projectRoot ?? process.cwd()));

    // Operators: members of this Cognito group (added by an administrator), or federated users whose IdP groups,
    // mapped to custom:groups, include its name.
    this.adminGroup = new cognito.CfnUserPoolGroup(this, 'AdminGroup', {
      userPoolId: this.userPool.userPoolId,
      groupName: props.adminGroup ?? 'ormcp-admins',
      description: 'Operators of the OpenRouter MCP server',
    });

    this.callbackUrls = [`${props.publicUrl}/oauth/callback`, ...(props.extraCallbackUrls ?? [])];

    this.client = this.userPool.addClient('AppClient', {
      userPoolClientName: 'mcp-server',
      // Public client: the façade exchanges codes server-side with PKCE (S256) and Cognito sends codes only to the
      // exact callback URLs below, so a secret would add a second secret to store and rotate without closing a gap.
      generateSecret: false,
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
        callbackUrls: this.callbackUrls,
        logoutUrls: [`${props.publicUrl}/`],
      },
      // The order here is the order of the buttons on managed login.
      // Cognito writes mapped attributes through the app client, and without a list a client may write only
      // standard attributes: with a groups mapping, list exactly what the providers map (custom:groups included).
      ...(this.mapsGroups
        ? {
            writeAttributes: new cognito.ClientAttributes()
              .withStandardAttributes({ email: true, fullname: true, emailVerified: federated.some((p) => p.type === 'oidc') })
              .withCustomAttributes('groups'),
          }
        : {}),
      supportedIdentityProviders: [
        ...this.providers.map((p) => cognito.UserPoolClientIdentityProvider.custom(p.providerName)),
        ...(passwordSignIn ? [cognito.UserPoolClientIdentityProvider.COGNITO] : []),
      ],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    });

    // The client may name a provider only once it exists.
    for (const p of this.providers) this.client.node.addDependency(p);

    const domainPrefix = props.domainPrefix ?? defaultDomainPrefix(stack.stackName, stack.account);
    this.domain = this.userPool.addDomain('Domain', {
      cognitoDomain: { domainPrefix },
      managedLoginVersion: cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
    });
    this.domainUrl = this.domain.baseUrl();

    // Managed login (v2) pages need a style assigned to the app client; Cognito's defaults are enough.
    new cognito.CfnManagedLoginBranding(this, 'Branding', {
      userPoolId: this.userPool.userPoolId,
      clientId: this.client.userPoolClientId,
      useCognitoProvidedValues: true,
    });

    Validations.of(this.userPool.node.defaultChild!).acknowledge({
      id: 'AwsSolutions-COG8',
      reason:
        'Standard threat protection needs the paid Plus feature plan; Essentials is used by default. Operators ' +
        'who want adaptive authentication can switch the plan and enable threat protection.',
    });
    if (!props.mfaRequired) {
      Validations.of(this.userPool.node.defaultChild!).acknowledge({
        id: 'AwsSolutions-COG2',
        reason:
          'MFA (TOTP) is optional so each user can enable it; set context mfaRequired=true to require it for ' +
          "everyone. Sign-in only grants access to the user's own MCP tokens and OpenRouter key.",
      });
    }
  }

  private addProvider(p: IdentityProviderConfig, projectRoot: string): cognito.IUserPoolIdentityProvider {
    const saml = p.type === 'saml';
    const attributeMapping: cognito.AttributeMapping = {
      email: cognito.ProviderAttribute.other(p.emailAttribute ?? (saml ? SAML_EMAIL_ATTRIBUTE : 'email')),
      fullname: cognito.ProviderAttribute.other(p.nameAttribute ?? (saml ? SAML_NAME_ATTRIBUTE : 'name')),
      // OIDC IdPs say whether they verified the address; a verified email lets the first sign-in adopt a user the
      // operator created with the CLI. SAML has no such claim, so SAML users are never adopted by email.
      ...(saml ? {} : { emailVerified: cognito.ProviderAttribute.other('email_verified') }),
      // Custom keys are written as given, so the key is the full pool attribute name.
      ...(p.groupsAttribute ? { custom: { [GROUPS_ATTRIBUTE]: cognito.ProviderAttribute.other(p.groupsAttribute) } } : {}),
    };
    const common = {
      userPool: this.userPool,
      name: p.name,
      attributeMapping,
      ...(p.domains?.length ? { identifiers: p.domains } : {}),
    };
    if (p.type === 'saml') {
      return new cognito.UserPoolIdentityProviderSaml(this, `Saml${p.name}`, {
        ...common,
        metadata: p.metadataUrl
          ? cognito.UserPoolIdentityProviderSamlMetadata.url(p.metadataUrl)
          : cognito.UserPoolIdentityProviderSamlMetadata.file(readMetadata(path.resolve(projectRoot, p.metadataFile!), p.name)),
        idpSignout: p.idpSignout ?? false,
      });
    }
    // A dynamic reference: CloudFormation reads the secret at deploy time; its value never enters the template.
    const secret = SecretValue.secretsManager(p.clientSecret, p.clientSecretField ? { jsonField: p.clientSecretField } : {});
    return new cognito.UserPoolIdentityProviderOidc(this, `Oidc${p.name}`, {
      ...common,
      issuerUrl: p.issuer,
      clientId: p.clientId,
      clientSecret: secret.unsafeUnwrap(),
      scopes: p.scopes ?? ['openid', 'email', 'profile'],
      attributeRequestMethod: cognito.OidcAttributeRequestMethod.GET,
    });
  }
}

function readMetadata(file: string, name: string): string {
  let xml: string;
  try {
    xml = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`identity provider "${name}": cannot read metadataFile ${file}`);
  }
  if (!/<(\w+:)?EntityDescriptor[\s>]/.test(xml)) throw new Error(`identity provider "${name}": ${file} is not SAML metadata (no EntityDescriptor)`);
  return xml;
}
