/**
 * The bucket generated images go to (lambda/images/s3-image-store.ts): private, encrypted, TLS only, and every
 * object deleted a day after it was written. Users reach an image only through a presigned GET link the function
 * hands out, valid for an hour; nothing in it is public and nothing in it is kept.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** The key prefix the function writes under (and the only one it may read or write). */
export const IMAGES_PREFIX = 'images/';

export interface ImagesBucketProps {
  /** Days an image is kept. @default 1 */
  readonly expiryDays?: number;
}

export class ImagesBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: ImagesBucketProps = {}) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { id: 'expire-images', expiration: Duration.days(props.expiryDays ?? 1), abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      // Kept on stack deletion like the table (CloudFormation cannot delete a non-empty bucket); it empties itself
      // within a day through the lifecycle rule.
    });
    Validations.of(this.bucket.node.defaultChild!).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Short-lived generated images written only by the function, each PutObject recorded in its log line; server ' +
        'access logs would need a second bucket (itself unlogged) to record reads of presigned links that expire in an hour.',
    });
  }
}
