/** Builds the limiter a host needs from the configured limits; limits off means NO_LIMITS (no store access at all). */
import { DynamoLimiter, type DynamoLimiterOptions } from './dynamo-limiter.js';
import { NO_LIMITS, limitsEnabled, type LimitSettings, type Limiter } from './limiter.js';
import { MemoryLimiter } from './memory-limiter.js';

export { DynamoLimiter } from './dynamo-limiter.js';
export { MemoryLimiter } from './memory-limiter.js';
export { NO_LIMITS, describeRefusal, limitsEnabled, type LimitSettings, type Limiter, type Permit, type Refusal } from './limiter.js';

/** Limits shared by every instance through the table (the Lambda, the tests). */
export function tableLimiter(settings: LimitSettings, table: Pick<DynamoLimiterOptions, 'client' | 'tableName' | 'logger' | 'timeoutMs'>): Limiter {
  return limitsEnabled(settings) ? new DynamoLimiter({ ...settings, ...table }) : NO_LIMITS;
}

/** Limits for a single process (`npm start`). */
export function processLimiter(settings: LimitSettings): Limiter {
  return limitsEnabled(settings) ? new MemoryLimiter(settings) : NO_LIMITS;
}
