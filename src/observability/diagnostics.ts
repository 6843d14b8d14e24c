/**
 * The gateway's named observability hook points, declared once. Pipeline and ext_proc code only publish;
 * logging and metrics subscribe (see metrics.ts, access-log.ts).
 */
import diagnostics_channel from 'node:diagnostics_channel';
import type { AccessLogRecord } from '../http/context.js';

/** Published once per request, after the response finished (or failed). */
export interface RequestEndEvent {
  readonly record: AccessLogRecord;
}

/** ext_proc events. */
export interface ExtProcStreamOpenEvent {
  readonly target: string;
}
export interface ExtProcPhaseEvent {
  readonly target: string;
  /** e.g. 'request_headers' */
  readonly phase: string;
  /** Round trip from send to matching reply, seconds. */
  readonly seconds: number;
}
export interface ExtProcFailureEvent {
  readonly target: string;
  /** Short machine reason: connect, grpc_status, reset, closed, timeout, protocol, body_too_large, mutation */
  readonly reason: string;
  readonly failOpen: boolean;
}
export interface ExtProcMutationRejectedEvent {
  readonly target: string;
  readonly header: string;
  readonly why: string;
}

/** Published after every attempt to apply a changed config file (tollgate:config:reload). */
export interface ConfigReloadEvent {
  readonly result: 'success' | 'failure';
  /** The file that was reloaded. */
  readonly source: string;
  /** The config error text on failure (never contains secret values). */
  readonly error?: string;
}

export const channels = {
  requestEnd: diagnostics_channel.channel('tollgate:request:end'),
  extProcOpen: diagnostics_channel.channel('tollgate:extproc:open'),
  extProcPhase: diagnostics_channel.channel('tollgate:extproc:phase'),
  extProcFailure: diagnostics_channel.channel('tollgate:extproc:failure'),
  extProcMutationRejected: diagnostics_channel.channel('tollgate:extproc:mutation-rejected'),
  configReload: diagnostics_channel.channel('tollgate:config:reload'),
} as const;

/** Publishes only when somebody listens (keeps the hot path cheap). */
export function publish<T>(ch: diagnostics_channel.Channel, event: T): void {
  if (ch.hasSubscribers) ch.publish(event);
}
