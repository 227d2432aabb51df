/**
 * Bodies of the JSON/form endpoints (token, revocation, registration), with failures as OAuth errors: an
 * oversized body is an invalid_request answered with 413, a form of the wrong type an invalid_request.
 */
import { BodyTooLarge } from '../http/body.js';
import { isFormBody, readSmallBody } from '../http/form.js';
import { OAuthError } from './errors.js';

export async function readOAuthBody(request: Request): Promise<string> {
  try {
    return await readSmallBody(request);
  } catch (err) {
    if (err instanceof BodyTooLarge) throw new OAuthError('invalid_request', err.message, 413);
    throw err;
  }
}

/** An application/x-www-form-urlencoded body; any other type is an invalid_request. */
export async function readOAuthForm(request: Request): Promise<URLSearchParams> {
  if (!isFormBody(request)) throw new OAuthError('invalid_request', 'Send the parameters as application/x-www-form-urlencoded.');
  return new URLSearchParams(await readOAuthBody(request));
}
