/**
 * The Lambda's AWS client settings come from the Lambda environment itself (no loader chains, no config files),
 * fall back to the SDK's own resolution where the environment says nothing, and bound every call.
 */
import { lambdaClientConfig, lambdaDynamoConfig, SECRET_TIMEOUTS, secretsClient } from '../../lambda/aws/clients.js';

const LAMBDA_ENV = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret-example',
  AWS_SESSION_TOKEN: 'session-example',
};

test('region and the execution role\'s credentials are taken as the runtime sets them', () => {
  expect(lambdaClientConfig(LAMBDA_ENV)).toEqual({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret-example', sessionToken: 'session-example' },
    retryMode: 'standard',
    useFipsEndpoint: false,
    useDualstackEndpoint: false,
    userAgentAppId: 'openrouter-mcp',
    authSchemePreference: [],
  });
});

test('without credentials or region in the environment the SDK resolves them itself (CLI, laptop)', () => {
  const config = lambdaClientConfig({ AWS_ACCESS_KEY_ID: 'only-half' });
  expect(config).not.toHaveProperty('credentials');
  expect(config).not.toHaveProperty('region');
  expect(lambdaClientConfig({ AWS_DEFAULT_REGION: 'us-east-1' }).region).toBe('us-east-1');
});

test('FIPS, dual-stack and the app id follow the variables the SDK would read', () => {
  const config = lambdaClientConfig({ ...LAMBDA_ENV, AWS_USE_FIPS_ENDPOINT: 'true', AWS_USE_DUALSTACK_ENDPOINT: 'true', AWS_SDK_UA_APP_ID: 'my-deployment' });
  expect(config).toMatchObject({ useFipsEndpoint: true, useDualstackEndpoint: true, userAgentAppId: 'my-deployment' });
});

test('DynamoDB uses plain regional endpoints', () => {
  expect(lambdaDynamoConfig(LAMBDA_ENV)).toMatchObject({ region: 'eu-west-1', accountIdEndpointMode: 'disabled', endpointDiscoveryEnabled: false });
});

test('the Secrets Manager client is bounded: attempts, connect and request limits that throw', async () => {
  const client = secretsClient(LAMBDA_ENV);
  expect(await client.config.maxAttempts()).toBe(SECRET_TIMEOUTS.maxAttempts);
  expect(await client.config.region()).toBe('eu-west-1');
  expect(await client.config.credentials()).toMatchObject({ accessKeyId: 'ASIAEXAMPLE' });
  const handlerConfig = (await (client.config.requestHandler as unknown as { configProvider: Promise<Record<string, unknown>> }).configProvider) ?? {};
  expect(handlerConfig).toMatchObject({ connectionTimeout: SECRET_TIMEOUTS.connectionTimeoutMs, requestTimeout: SECRET_TIMEOUTS.requestTimeoutMs, throwOnRequestTimeout: true });
  client.destroy();
});
