/**
 * Request bodies by content type: forms (the token and revocation endpoints, our pages' posts) and JSON (client
 * registration), read under one byte cap.
 */
import { readTextCapped } from './body.js';

/** The most a form or a registration body may carry. */
export const MAX_FORM_BYTES = 16 * 1024;

export function isFormBody(request: Request): boolean {
  return /^application\/x-www-form-urlencoded\b/i.test(request.headers.get('content-type') ?? '');
}

export function isJsonBody(request: Request): boolean {
  return /^application\/json\b/i.test(request.headers.get('content-type') ?? '');
}

/** The body as text, at most MAX_FORM_BYTES of it; more throws BodyTooLarge. */
export function readSmallBody(request: Request): Promise<string> {
  return readTextCapped(request, MAX_FORM_BYTES);
}

/** A form body; a body of any other type reads as an empty form. More than MAX_FORM_BYTES throws BodyTooLarge. */
export async function readForm(request: Request): Promise<URLSearchParams> {
  if (!isFormBody(request)) return new URLSearchParams();
  return new URLSearchParams(await readSmallBody(request));
}

/** True when some parameter appears more than once (OAuth requests must name each at most once). */
export function hasRepeatedParameter(form: URLSearchParams): boolean {
  return [...form.keys()].some((k) => form.getAll(k).length > 1);
}
