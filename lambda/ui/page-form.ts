/** Forms posted from our own pages. */
import { BodyTooLarge } from '../http/body.js';
import { readForm } from '../http/form.js';
import { errorPage } from './pages.js';

/** The posted form; an oversized body is answered with an error page (413), not a form. */
export async function readPageForm(request: Request, base: string): Promise<URLSearchParams | Response> {
  try {
    return await readForm(request);
  } catch (err) {
    if (err instanceof BodyTooLarge) return errorPage(base, 'Request too large', 'This form sent more than the server accepts. Nothing was changed.', 413);
    throw err;
  }
}
