/**
 * The normalized, frozen runtime model. Both config shapes (seed `binds` and current `gateways`) end up
 * here; nothing after `normalize.ts` ever looks at raw config. Every object is deeply frozen.
 */

/** A compiled CEL expression (compiled at config load; a bad expression is a config error). */
export interface CelExpr {
  /** The source text, for logs and config_dump. */
  readonly source: string;
  /** Evaluates against an activation (e.g. `{request: {...}, extproc: {...}}`); throws on evaluation error. */
  evaluate(activation: Readonly<Record<string, unknown>>): unknown;
}

/** A secret value resolved at load (`"literal"`, `$ENV`, or `{file: path}`). `toJSON` redacts it. */
export interface Secret {
  readonly kind: 'secret';
  /** Where it came from, safe to print: 'inline' or 'file:/path'. */
  readonly origin: string;
  /** The secret itself. Never log it. */
  reveal(): string;
  toJSON(): string;
}

/** An address to serve on, e.g. `{host: '127.0.0.1', port: 15000}`; null means `off`. */
export interface ListenAddr {
  readonly host: string;
  readonly port: number;
}

export interface StaticConfig {
  /** admin (/config_dump); default localhost:15000 */
  readonly adminAddr: ListenAddr | null;
  /** metrics (/metrics); default 0.0.0.0:15020 */
  readonly statsAddr: ListenAddr | null;
  /** readiness (/healthz/ready); default 0.0.0.0:15021 */
  readonly readinessAddr: ListenAddr | null;
  /** log level: error|warn|info|debug (default info) */
  readonly logLevel: string;
  /** log format: json|text (default json) */
  readonly logFormat: 'json' | 'text';
  /** Number of worker processes (1 = no cluster). tollgate extension `config.workers`. */
  readonly workers: number;
}

export interface FrontendPolicies {
  /** Bound on every body the gateway buffers; default 2 MiB. */
  readonly maxBufferSize: number;
  /** Access log enabled (default true). */
  readonly accessLog: boolean;
}

export interface ServerTls {
  /** PEM text (already read from the file). */
  readonly cert: string;
  readonly key: Secret;
  /** Path of the cert file, for reload and dumps. */
  readonly certPath: string;
  readonly keyPath: string;
}

/** A socket the gateway opens. */
export interface Bind {
  /** `bind/<port>` */
  readonly key: string;
  readonly port: number;
  /** Address to listen on; default 0.0.0.0 (tollgate allows `TOLLGATE_BIND_HOST` for tests). */
  readonly listeners: readonly Listener[];
}

export interface Listener {
  /** Stable key, e.g. `default/default/bind/3000/listener0` or `gateway/web`. */
  readonly key: string;
  readonly name: string;
  /** The gateway this listener belongs to: seed `gatewayName`, or the `gateways` map key. Used for metrics. */
  readonly gatewayName: string;
  /** Hostname to match (may be `*.example.com`); undefined matches any. */
  readonly hostname: string | undefined;
  readonly protocol: 'HTTP' | 'HTTPS';
  readonly tls: ServerTls | undefined;
  /** Gateway-phase policies (run before route selection). */
  readonly policies: GatewayPhasePolicies;
  readonly routes: readonly Route[];
}

export interface GatewayPhasePolicies {
  readonly extProc: ExtProcPolicy | undefined;
  /** Gateway-level policy kinds that are accepted but not implemented; a request fails with 500 naming them. */
  readonly unimplemented: readonly string[];
}

export interface Route {
  /** Stable key, `<listenerKey>/<namespace>/<name>`. */
  readonly key: string;
  readonly name: string;
  readonly namespace: string;
  /** Position in config order (used for the final tie-break of route ordering). */
  readonly index: number;
  readonly hostnames: readonly string[];
  /** ORed; conditions inside one match are ANDed. Default: one `pathPrefix: /` match. */
  readonly matches: readonly RouteMatch[];
  readonly backends: readonly WeightedBackend[];
  readonly policies: RoutePolicies;
}

export type PathMatch =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly value: string; readonly regex: RegExp };

export type ValueMatch =
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'regex'; readonly value: string; readonly regex: RegExp };

export interface RouteMatch {
  readonly path: PathMatch;
  readonly method: string | undefined;
  readonly headers: readonly { readonly name: string; readonly value: ValueMatch }[];
  readonly query: readonly { readonly name: string; readonly value: ValueMatch }[];
}

export interface WeightedBackend {
  readonly weight: number;
  readonly backend: Backend;
  /** Backend-level policies (requestHeaderModifier, backendAuth, …). */
  readonly policies: BackendPolicies;
}

export type Backend = HostBackend | AiBackend;

export interface HostBackend {
  readonly kind: 'host';
  /** Display name for metrics/logs, e.g. `127.0.0.1:8080` or the named backend key. */
  readonly name: string;
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
}

export interface AiBackend {
  readonly kind: 'ai';
  /** `ai.name` (used in telemetry). */
  readonly name: string;
  readonly provider: { readonly kind: 'openAI'; readonly model: string | undefined };
  /** Where to dial: default api.openai.com:443 over TLS; `hostOverride` dials plaintext. */
  readonly target: { readonly scheme: 'http' | 'https'; readonly host: string; readonly port: number };
  readonly hostOverride: string | undefined;
  readonly pathOverride: string | undefined;
  readonly pathPrefix: string | undefined;
}

export interface HeaderModifier {
  readonly set: readonly { readonly name: string; readonly value: string }[];
  readonly add: readonly { readonly name: string; readonly value: string }[];
  readonly remove: readonly string[];
}

export interface DirectResponse {
  readonly status: number;
  readonly body: string;
}

export interface TimeoutPolicy {
  /** Whole exchange, in ms. */
  readonly requestTimeoutMs: number | undefined;
  /** Upstream call only, in ms. */
  readonly backendRequestTimeoutMs: number | undefined;
}

export type BackendAuth =
  | { readonly kind: 'key'; readonly key: Secret; readonly header: string; readonly prefix: string }
  | { readonly kind: 'passthrough' };

export interface BackendPolicies {
  readonly requestHeaderModifier: HeaderModifier | undefined;
  readonly responseHeaderModifier: HeaderModifier | undefined;
  readonly backendAuth: BackendAuth | undefined;
  readonly backendTLS: { readonly insecure: boolean; readonly caCert: string | undefined } | undefined;
}

export interface RoutePolicies extends BackendPolicies {
  readonly directResponse: DirectResponse | undefined;
  readonly timeout: TimeoutPolicy | undefined;
  readonly extProc: ExtProcPolicy | undefined;
  /** Route policy kinds accepted by the schema but not implemented; a request fails with 500 naming them. */
  readonly unimplemented: readonly string[];
}

// ───────────────────────────── ext_proc ─────────────────────────────

export type HeaderSendMode = 'send' | 'skip';
export type BodySendMode = 'none' | 'buffered' | 'bufferedPartial' | 'streamed' | 'fullDuplexStreamed';

export interface ProcessingOptions {
  readonly requestHeaderMode: HeaderSendMode;
  readonly responseHeaderMode: HeaderSendMode;
  readonly requestBodyMode: BodySendMode;
  readonly responseBodyMode: BodySendMode;
  readonly requestTrailerMode: HeaderSendMode;
  readonly responseTrailerMode: HeaderSendMode;
  readonly allowModeOverride: boolean;
}

/** Where the processor lives. `authority` is what goes in `:authority`. */
export interface ProcessorTarget {
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
  /** The text the user wrote (e.g. `extproc.com:9000` or `backend:my-proc`), for messages. */
  readonly display: string;
  /** For https: skip verification / custom CA (from the named backend's backendTLS). */
  readonly tls: { readonly insecure: boolean; readonly caCert: string | undefined } | undefined;
}

export interface ExtProcConfig {
  readonly target: ProcessorTarget;
  readonly failureMode: 'failClosed' | 'failOpen';
  readonly processingOptions: ProcessingOptions;
  /** Default 10 s. */
  readonly messageTimeoutMs: number;
  /** Default 500. */
  readonly statusOnError: number;
  /** namespace → key → CEL; sent as metadata_context.filter_metadata on every message. */
  readonly metadataContext: Readonly<Record<string, Readonly<Record<string, CelExpr>>>> | undefined;
  /** name → CEL; sent under attributes["envoy.filters.http.ext_proc"] on the first request message. */
  readonly requestAttributes: Readonly<Record<string, CelExpr>> | undefined;
  readonly responseAttributes: Readonly<Record<string, CelExpr>> | undefined;
}

/** Either one config, or the conditional form: the first entry whose condition matches is used. */
export type ExtProcPolicy =
  | { readonly kind: 'static'; readonly config: ExtProcConfig }
  | {
      readonly kind: 'conditional';
      readonly entries: readonly { readonly condition: CelExpr | undefined; readonly config: ExtProcConfig }[];
    };

/** The whole normalized config. */
export interface GatewayModel {
  readonly config: StaticConfig;
  readonly frontend: FrontendPolicies;
  readonly binds: readonly Bind[];
}
