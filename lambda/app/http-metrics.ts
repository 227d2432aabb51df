/**
 * Counts every HTTP response (and the 5xx among them) around the app, so the hosts get the metric without the
 * handler knowing about it. Responses the Lambda adapter itself makes when the app throws are not seen here;
 * API Gateway's own 5XXError metric (which the alarms use) covers those.
 */
import type { App } from './app.js';
import type { Metrics } from '../observability/metrics.js';

export function withHttpMetrics(app: App, metrics: Metrics): App {
  return {
    fetch: async (request) => {
      let status = 500;
      try {
        const response = await app.fetch(request);
        status = response.status;
        return response;
      } finally {
        metrics.httpResponse(status);
      }
    },
    close: () => app.close(),
  };
}
