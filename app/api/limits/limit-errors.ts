import { DatabaseUnavailableError, errorWithStatus, type ApiError } from '../../http/errors';

/** 403: the key may not use this model. The request was not sent upstream. */
export class ModelNotAllowedError extends errorWithStatus(403) {
  constructor(model: string) {
    super(
      `This API key may not use the model ${JSON.stringify(model)}; GET /v1/models lists the models it may use, an administrator can allow more.`,
      { code: 'model_not_allowed', param: 'model' },
    );
  }
}

/** 429, with Retry-After: a per-minute limit (rate_limit_exceeded) or the monthly budget (insufficient_quota). */
export class RateLimitError extends errorWithStatus(429) {
  constructor(
    message: string,
    code: 'rate_limit_exceeded' | 'insufficient_quota',
    readonly retryAfter: number,
  ) {
    super(message, { code });
    this.headers = { 'Retry-After': String(retryAfter) };
  }
}

/** 503 with Retry-After when LIMITS_ON_STORE_ERROR=closed and the limits could not be checked. */
export function limitsUnavailable(): ApiError {
  return new DatabaseUnavailableError(
    "This API key's limits could not be checked because the database cannot be reached; retry shortly.",
  );
}
