import type http from 'node:http';
import type { RequestContext } from './request-context';

/** What a route's handler gets: the request, the response, the request's context and the path's parameter. */
export interface RouteCall {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  ctx: RequestContext;
  /** The `:id` segment of `/orders/:id`, URL-decoded. */
  id?: string;
}

export type RouteHandler = (call: RouteCall) => void | Promise<void>;

/** One path of the API: its template (a metrics label) and a handler per method (HEAD goes to GET). */
export interface Route {
  template: string;
  methods: Partial<Record<'GET' | 'POST', RouteHandler>>;
  /** Methods announced in a 405's Allow header; without it, other methods get 404 (health and metrics paths). */
  allow?: readonly string[];
  /** Access-logged at debug level (probes, scrapes). */
  quiet?: boolean;
}
