import type { Request, Response } from 'express';
import type { Principal } from '../keys/key-service';
import type { LimitsService } from './limits-service';

/** What the limits need to know of a request before it is sent upstream. */
export interface AdmissionRequest {
  caller: Principal;
  endpoint: 'chat' | 'embeddings';
  /** The catalog model the request resolved to. */
  model: { id: string };
  body: Record<string, unknown>;
  requestId: string;
}

/** Asked before a request goes upstream; throws an ApiError (headers set on `res`) to refuse it. */
export type Admission = (request: AdmissionRequest, res: Response) => Promise<void>;

/** The limits service as the admission of chat completions and embeddings. */
export function limitsAdmission(limits: LimitsService): Admission {
  return (request, res) =>
    limits.admit(
      {
        caller: request.caller,
        endpoint: request.endpoint,
        model: request.model.id,
        body: request.body,
        bodyBytes: bodyBytesOf(res.req, request.body),
        requestId: request.requestId,
      },
      res,
    );
}

/** The body's size as it arrived (Content-Length), else as JSON; the prompt estimate is based on it. */
function bodyBytesOf(req: Request | undefined, body: Record<string, unknown>): number {
  const length = Number(req?.headers['content-length']);
  return Number.isSafeInteger(length) && length > 0 ? length : Buffer.byteLength(JSON.stringify(body));
}
