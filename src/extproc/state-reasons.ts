/**
 * The sentences behind protocol errors and stream ends: each names the phase, what was received and the
 * likely fix, because they reach the access log and (fail closed) the client. Pure; no I/O.
 */
import type { FailureCause } from './failure.js';
import type { Direction } from './modes.js';
import type { DirState, Phase, ReplyKind } from './state.js';
import type { StreamEnd } from './transport.js';

const EXPECTED_REPLY: Readonly<Record<Phase, string>> = {
  headers: 'a HeadersResponse',
  body: 'a BodyResponse',
  trailers: 'a TrailersResponse',
};

function modeHint(d: DirState | undefined): string {
  if (d === undefined) return '';
  if (d.t === 'awaitingBody' || d.t === 'streaming') return ` in ${d.mode} mode`;
  return '';
}

/** The protocol's name for a reply kind (local reply parts are StreamedImmediateResponse fields). */
function wireName(kind: ReplyKind): string {
  return kind.startsWith('local_') ? `streamed_immediate_response ${kind.slice('local_'.length)}_response` : kind;
}

/** Why a reply of `kind` is a protocol error when `awaited` (e.g. `request_body`) was due in state `dir`. */
export function protocolReason(kind: ReplyKind, awaited: `${Direction}_${Phase}` | undefined, dir: DirState | undefined): FailureCause {
  if (awaited === undefined) {
    const got = kind === 'empty' ? 'an empty response (no oneof set)' : wireName(kind);
    return { kind: 'protocol', detail: `the processor sent ${got} while no reply was awaited; every reply must answer one message the gateway sent` };
  }
  const phase = awaited.split('_')[1] as Phase;
  const hint = `${modeHint(dir)} it must send ${EXPECTED_REPLY[phase]} (${awaited}) or an immediate_response`;
  if (kind === 'empty') {
    return { kind: 'protocol', detail: `the processor answered ${awaited} with an empty response (no oneof set);${hint}` };
  }
  if (kind === 'streamed_immediate_response') {
    return { kind: 'protocol', detail: `the processor answered ${awaited} with a streamed_immediate_response that has no part set; it must start with a headers_response` };
  }
  if (kind.startsWith('local_')) {
    return { kind: 'protocol', detail: `the processor sent ${wireName(kind)} while ${awaited} was awaited; a streamed_immediate_response must start with a headers_response answering request_headers` };
  }
  return { kind: 'protocol', detail: `the processor sent ${kind} while ${awaited} was awaited; replies must answer messages in the order they were sent, and${hint}` };
}

/** Why a stream end is a failure, given what was awaited at the time. */
export function endReason(end: StreamEnd, awaited: string | undefined): FailureCause {
  const where = awaited === undefined ? 'between phases' : `while ${awaited} was awaited`;
  switch (end.kind) {
    case 'connect':
      return { kind: 'connect', detail: `cannot reach the processor: ${end.message}; check the extProc host and that the processor is running` };
    case 'grpc_status':
      return { kind: 'grpc_status', detail: `the processor ended the stream with gRPC status ${end.code} ${where}: ${end.message}` };
    case 'reset':
      return { kind: 'reset', detail: `the processor stream was reset ${where}: ${end.message}` };
    case 'cancelled':
      return { kind: 'reset', detail: `the processor stream was cancelled ${where}` };
    case 'ok':
      return { kind: 'closed', detail: `the processor closed the stream ${where}` };
  }
}
