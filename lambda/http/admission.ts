/**
 * Admission control for a single-process server: bounds the requests in flight and the request-body bytes they
 * may hold, so a burst of large bodies is turned away (503 + Retry-After) instead of exhausting the heap. Each
 * admitted request reserves its body size up front — the declared Content-Length, or the full per-request body
 * limit when the length is unknown (chunked) — and keeps the reservation until its response is finished, because
 * the parsed arguments stay alive for as long as the call runs.
 */

export interface AdmissionLimits {
  /** Requests in flight at once (any size). */
  maxRequests: number;
  /** Sum of the reserved body bytes of the requests in flight. */
  maxBodyBytes: number;
  /** The per-request body limit: what a body of unknown length reserves, and the most any one body reserves. */
  perRequestBodyBytes: number;
}

/** Gives back a reservation; calling it more than once has no further effect. */
export type Release = () => void;

export class Admission {
  private requests = 0;
  private bytes = 0;

  constructor(private readonly limits: AdmissionLimits) {}

  /** The reservation for a request, or undefined when admitting it would pass a limit. */
  tryAdmit(request: { hasBody: boolean; contentLength: string | undefined }): Release | undefined {
    const reserve = this.reservationFor(request);
    if (this.requests + 1 > this.limits.maxRequests || this.bytes + reserve > this.limits.maxBodyBytes) return undefined;
    this.requests += 1;
    this.bytes += reserve;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.requests -= 1;
      this.bytes -= reserve;
    };
  }

  inFlight(): { requests: number; bodyBytes: number } {
    return { requests: this.requests, bodyBytes: this.bytes };
  }

  private reservationFor({ hasBody, contentLength }: { hasBody: boolean; contentLength: string | undefined }): number {
    if (!hasBody) return 0;
    const declared = contentLength !== undefined && /^\d{1,15}$/.test(contentLength) ? Number(contentLength) : undefined;
    // A body declared over the limit is refused by the app before it is read, so it holds at most the limit.
    return declared === undefined ? this.limits.perRequestBodyBytes : Math.min(declared, this.limits.perRequestBodyBytes);
  }
}
