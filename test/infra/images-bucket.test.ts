/**
 * The images bucket in the stack: private (every public-access block on, TLS enforced), S3-managed encryption, no
 * versioning, objects expire after a day; the function may only put and get objects under images/ in that bucket
 * and is told its name; cdk-nag stays clean with the one reasoned acknowledgment (no server access logs).
 */
import { Match } from 'aws-cdk-lib/assertions';
import { onlyResource, resourcesOf, synth, type Synthesized } from './support/synth.js';

let s: Synthesized;
let bucketId: string;
let bucket: any;

beforeAll(() => {
  s = synth();
  [bucketId, bucket] = onlyResource(s.json, 'AWS::S3::Bucket');
});

test('private, encrypted, unversioned, and every object expires after a day', () => {
  const p = bucket.Properties;
  expect(p.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
  expect(p.BucketEncryption.ServerSideEncryptionConfiguration).toEqual([{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }]);
  expect(p.VersioningConfiguration).toBeUndefined();
  expect(p.LifecycleConfiguration.Rules).toEqual([
    expect.objectContaining({ Status: 'Enabled', ExpirationInDays: 1, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
  ]);
  expect(p.OwnershipControls.Rules).toEqual([{ ObjectOwnership: 'BucketOwnerEnforced' }]);
});

test('the bucket policy refuses every request without TLS', () => {
  const [, policy] = onlyResource(s.json, 'AWS::S3::BucketPolicy');
  expect(policy.Properties.Bucket).toEqual({ Ref: bucketId });
  expect(policy.Properties.PolicyDocument.Statement).toEqual(
    expect.arrayContaining([expect.objectContaining({ Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
  );
});

test('the function may put and get objects under images/ in this bucket, and nothing else in S3', () => {
  const statements = Object.values(resourcesOf(s.json, 'AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement as any[]);
  const s3Statements = statements.filter((st) => [st.Action].flat().some((a: string) => a.startsWith('s3:')));
  expect(s3Statements).toEqual([
    {
      Sid: 'Images',
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:PutObject'],
      Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/images/*']] },
    },
  ]);
});

test('the function is told the bucket name (the region comes from the runtime)', () => {
  s.template.hasResourceProperties('AWS::Lambda::Function', {
    Environment: { Variables: Match.objectLike({ ORMCP_IMAGES_BUCKET: { Ref: bucketId } }) },
  });
  expect(s.json.Outputs.ImagesBucket.Value).toEqual({ Ref: bucketId });
});

test('cdk-nag: no findings', () => {
  expect(s.nag.violations).toEqual([]);
});
