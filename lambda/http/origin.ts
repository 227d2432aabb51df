/** Where a browser request came from. */

/** Browsers send Origin on form posts; a post from another site is refused even before the CSRF check. */
export function sameOrigin(request: Request, base: string): boolean {
  const origin = request.headers.get('origin');
  return !origin || origin === new URL(base).origin;
}
