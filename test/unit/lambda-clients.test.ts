/**
 * The Lambda's AWS clients take region, credentials and endpoints from the Lambda environment itself (no loader
 * chains, no config files), refuse to start without them, and bound every call.
 */
import { endpointFor } from '../../lambda/http/aws-json-rpc.js';
import { lambdaClientConfig, SECRET_TIMEOUTS } from '../../lambda/aws/clients.js';
import { DYNAMO_TIMEOUTS } from '../../lambda/store/dynamo-timeouts.js';

const LAMBDA_ENV = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'secret-example',
  AWS_SESSION_TOKEN: 'session-example',
};

test("region and the execution role's credentials are taken as the runtime sets them", () => {
  expect(lambdaClientConfig(LAMBDA_ENV)).toEqual({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret-example', sessionToken: 'session-example' },
    userAgent: 'openrouter-mcp app/openrouter-mcp',
  });
  expect(lambdaClientConfig({ ...LAMBDA_ENV, AWS_REGION: '', AWS_DEFAULT_REGION: 'us-east-1', AWS_SDK_UA_APP_ID: 'my-deployment' })).toMatchObject({
    region: 'us-east-1',
    userAgent: 'openrouter-mcp app/my-deployment',
  });
});

test('without a region or credentials the Lambda clients refuse to start, saying what is missing', () => {
  expect(() => lambdaClientConfig({ ...LAMBDA_ENV, AWS_REGION: undefined })).toThrow(/AWS_REGION/);
  expect(() => lambdaClientConfig({ AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'only-half' })).toThrow(/AWS_SECRET_ACCESS_KEY/);
});

test('endpoints: the SDK override variables first, else the regional (or FIPS, or China) endpoint', () => {
  expect(endpointFor({}, 'DYNAMODB', 'dynamodb', 'eu-west-1')).toBe('https://dynamodb.eu-west-1.amazonaws.com');
  expect(endpointFor({ AWS_USE_FIPS_ENDPOINT: 'true' }, 'DYNAMODB', 'dynamodb', 'us-east-1')).toBe('https://dynamodb-fips.us-east-1.amazonaws.com');
  expect(endpointFor({}, 'SECRETS_MANAGER', 'secretsmanager', 'cn-north-1')).toBe('https://secretsmanager.cn-north-1.amazonaws.com.cn');
  expect(endpointFor({ AWS_ENDPOINT_URL_SECRETS_MANAGER: 'http://127.0.0.1:1', AWS_ENDPOINT_URL: 'http://127.0.0.1:2' }, 'SECRETS_MANAGER', 'secretsmanager', 'eu-west-1')).toBe('http://127.0.0.1:1');
  expect(endpointFor({ AWS_ENDPOINT_URL: 'http://127.0.0.1:2' }, 'DYNAMODB', 'dynamodb', 'eu-west-1')).toBe('http://127.0.0.1:2');
});

test('every call is bounded: connect and per-attempt limits and a fixed number of attempts', () => {
  expect(SECRET_TIMEOUTS).toEqual({ connectionTimeoutMs: 1_000, requestTimeoutMs: 2_000, maxAttempts: 3 });
  expect(DYNAMO_TIMEOUTS).toEqual({ connectionTimeoutMs: 1_000, requestTimeoutMs: 1_500, maxAttempts: 2 });
});
