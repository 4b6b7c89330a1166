import type { Principal } from '../keys/key-service';
import type { Endpoint } from './upstream';

/** The answer's bytes as the gateway kept them for a token estimate: a JSON body, or a stream's data payloads. */
export type KeptAnswer = { kind: 'json'; chunks: Buffer[] } | { kind: 'sse'; events: Buffer[] };

/**
 * What became of one admitted request, handed to whoever asked for outcomes (a usage ledger, limits settling what
 * they reserved) once the answer is complete, failed, or the client left.
 */
export interface RoutingOutcome {
  /** The API key and user the request came with. */
  caller: Principal;
  requestId: string;
  endpoint: Endpoint;
  /** The catalog model the client asked for (its public name). */
  model: string;
  stream: boolean;
  /** The upstream that served it; null when none did. */
  upstream: string | null;
  /** The model name that upstream was sent. */
  upstreamModel: string | null;
  /** The HTTP status the client got. */
  status: number;
  /**
   * ok: the whole answer went out; failed: no upstream answered (the client got an error); broken: the upstream
   * broke off after the first byte; aborted: the client went away.
   */
  result: 'ok' | 'failed' | 'broken' | 'aborted';
  /** Why it is not ok (an error code or a failure reason); null when ok. */
  reason: string | null;
  /** The upstream's `usage` object as it reported it (the last one of a stream); null when it sent none. */
  usage: Record<string, unknown> | null;
  /** The body sent upstream (its prompt is counted when there is no usage). */
  body: Record<string, unknown>;
  /** What was kept of the answer for a token estimate; null when nothing was (see RoutingServiceOptions.usage). */
  answer: KeptAnswer | null;
  /** Requests sent upstream, and targets moved past before the one that served. */
  attempts: number;
  failovers: number;
  /** From the request's routing start to the serving upstream's response headers. */
  timeToFirstByteMs: number | null;
  /** Streams: from the routing start to the first data event passed on. */
  timeToFirstTokenMs: number | null;
  durationMs: number;
}
