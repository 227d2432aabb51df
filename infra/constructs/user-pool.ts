/**
 * Who the user is: a Cognito user pool (email sign-in), its managed-login domain (version 2, Cognito's default
 * style) and one app client for the server's OAuth façade (authorization code grant with PKCE, OIDC scopes).
 */
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import { Construct } from 'constructs';
import { checkDomainPrefix } from '../config.js';

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

  constructor(scope: Construct, id: string, props: McpUserPoolProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const protect = props.deletionProtection ?? true;

    this.userPool = new cognito.UserPool(this, 'UserPool', {
      userPoolName: `${stack.stackName}-users`,
      // Essentials: the lowest plan with managed login (v2). Plus (threat protection) is a paid upgrade.
      featurePlan: cognito.FeaturePlan.ESSENTIALS,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      autoVerify: { email: true },
      keepOriginal: { email: true },
      standardAttributes: { email: { required: true, mutable: true } },
      selfSignUpEnabled: props.selfSignUp ?? false,
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
      supportedIdentityProviders: [cognito.UserPoolClientIdentityProvider.COGNITO],
      preventUserExistenceErrors: true,
      enableTokenRevocation: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    });

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
}
